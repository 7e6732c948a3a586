"""The push webhook under a real uvicorn server on 127.0.0.1, with real signed payloads."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from graph_api.app import create_app
from graph_api.settings import RateLimit, Settings
from graph_api.store.embedded import EmbeddedStore
from loaders.git import GitLoadOptions, load_git
from loaders.git.webhook import PATH, git_webhook_route

SECRET = "s3cret-for-tests"
DEADLINE_S = 20.0
COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def poll(probe: Callable[[], bool], what: str) -> None:
    """Call ``probe`` until it is true, or fail at the deadline (no fixed sleeps)."""
    deadline = time.monotonic() + DEADLINE_S
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {DEADLINE_S} s")


def signed(body: bytes, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": event,
        "Content-Type": "application/json",
    }


class Served:
    def __init__(self, base: str, work: Any, origin: Path) -> None:
        self.base = base
        self.work = work
        self.origin = origin
        self.url = f"file://{origin}"

    def component(self, name: str) -> dict[str, object] | None:
        query = f'{{ component(ref: "{name}") {{ ref }} }}'
        response = httpx.post(f"{self.base}/graphql", json={"query": query}, timeout=5)
        return response.json()["data"]["component"]


@pytest.fixture
def served(tmp_path: Path, git_repo: Callable[..., Any]) -> Iterator[Served]:
    work = git_repo("service")
    work.write("catalog-info.yaml", COMPONENT.format(name="first")).commit()
    origin = git_repo("service-origin.git", bare=True)
    work.git("push", "-q", str(origin.path), "main")
    options = GitLoadOptions(cache=tmp_path / "cache", fetch_remote=False, actor="webhook")

    async def load_first() -> None:
        store = EmbeddedStore(tmp_path / "store")
        await store.open()
        try:
            (report,) = await load_git(store, [f"file://{origin.path}"], options)
            assert report.added == ["component:default/first"]
        finally:
            await store.close()

    asyncio.run(load_first())
    store = EmbeddedStore(tmp_path / "store")
    settings = Settings(
        store=tmp_path / "store", allow_anonymous_read=True, rate_limit=RateLimit(enabled=False)
    )
    app = create_app(store, settings, routes=[git_webhook_route(store, SECRET, options)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", ws="none", http="h11", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert thread.is_alive(), "server thread died"
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        poll(healthy, "server start")
        yield Served(base, work, origin.path)
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)
        sock.close()


def test_signed_push_resyncs_the_repository(served: Served) -> None:
    served.work.write("more/catalog-info.yaml", COMPONENT.format(name="pushed")).commit()
    served.work.git("push", "-q", str(served.origin), "main")
    body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": served.url}}).encode()
    with httpx.Client(base_url=served.base, timeout=10) as client:
        response = client.post(PATH, content=body, headers=signed(body))
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": f"git:file://{served.origin.with_suffix('')}"}
    poll(lambda: served.component("pushed") is not None, "the pushed component to load")
    assert served.component("first") == {"ref": "component:default/first"}


def test_bad_signatures_other_events_and_bad_payloads(served: Served) -> None:
    body = json.dumps({"repository": {"clone_url": served.url}}).encode()
    with httpx.Client(base_url=served.base, timeout=10) as client:
        assert (
            client.post(PATH, content=body, headers=signed(body, secret="wrong")).status_code == 401
        )
        assert client.post(PATH, content=body).status_code == 401  # unsigned
        assert (
            client.post(PATH, content=body, headers=signed(body, event="ping")).status_code == 204
        )
        bad = b"{not json"
        assert client.post(PATH, content=bad, headers=signed(bad)).status_code == 400
        no_url = b'{"repository": {}}'
        assert client.post(PATH, content=no_url, headers=signed(no_url)).status_code == 400
        stranger = json.dumps({"repository": {"clone_url": "file:///nowhere.git"}}).encode()
        assert client.post(PATH, content=stranger, headers=signed(stranger)).status_code == 404
        gitlab = json.dumps({"project": {"git_http_url": served.url}}).encode()
        headers = {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook"}
        assert client.post(PATH, content=gitlab, headers=headers).status_code == 202
        wrong = {"X-Gitlab-Token": "nope", "X-Gitlab-Event": "Push Hook"}
        assert client.post(PATH, content=gitlab, headers=wrong).status_code == 401
