"""A real uvicorn server on 127.0.0.1 in a background thread, for tests that speak HTTP.

Shared by the middleware tests (each serves its own app) and the attack tests (fuzzing,
malformed input, schemathesis), which serve the demo estate through ``demo_server`` in
``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

from devgraph.demo import generate_estate
from graph_api.app import create_app
from graph_api.security.tokens import create_token
from graph_api.settings import RateLimit, Settings
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

T = TypeVar("T")
DEADLINE_S = 15.0
DEMO_COMPONENTS = 50


def wait_for(probe: Callable[[], T | None], what: str, deadline_s: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns something, or fail at the deadline."""
    deadline = time.monotonic() + deadline_s
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return found


@contextlib.contextmanager
def serve_app(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` (lifespan on) under uvicorn on a free port; yields the base URL."""
    # Bound before the server starts, so the port is ours and early requests wait in the backlog.
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response on a kept-alive connection waits 40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # log_config=None: uvicorn leaves logging alone, so caplog sees devgraph's records.
    config = uvicorn.Config(app, lifespan="on", ws="none", http="h11", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def started() -> bool | None:
        # A dead server thread ends the wait too; the assertion below reports it.
        return True if server.started or not thread.is_alive() else None

    try:
        wait_for(started, "startup")
        assert thread.is_alive(), "server died during startup"
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)
        sock.close()
    assert not thread.is_alive(), "server did not shut down"


def assert_no_internal_error(response: httpx.Response) -> None:
    """The server answered as to a client's mistake at worst: no 5xx, no internal error."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text, response.text[:2000]
    try:
        body = json.loads(response.text)
    except ValueError:
        return  # strawberry refuses unparseable requests with a plain-text 4xx
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or ():
        # Judged field by field: a message may well echo a client's "Unexpected error." back.
        assert error.get("message") != "Unexpected error.", error
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_SERVER_ERROR", error


@dataclass(frozen=True)
class DemoServer:
    """The demo estate served over HTTP, and an admin token for it."""

    base: str
    store: Path
    admin: str

    def client(self, *, auth: bool = True) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin}"} if auth else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


async def _load_demo(root: Path, store_path: Path) -> str:
    """Generate and load the demo estate into a fresh store; return an admin token's secret."""
    summary = generate_estate(root / "estate", components=DEMO_COMPONENTS)
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        (report,) = await load_files(store, [summary.location], fetch_remote=False)
        assert report.ok, report.rejected
        _, secret = await create_token(
            store, name="attack", team=None, role="admin", expires_at=None
        )
    finally:
        await store.close()
    return secret


@contextlib.contextmanager
def serve_demo(root: Path) -> Iterator[DemoServer]:
    """The real app over a freshly loaded demo estate, served on 127.0.0.1."""
    store_path = root / "store"
    secret = asyncio.run(_load_demo(root, store_path))
    # Attack tests send hundreds of requests with one token; throttling would only turn their
    # findings into 429s (the rate limiter has its own tests in test_middleware.py).
    settings = Settings(store=store_path, rate_limit=RateLimit(enabled=False))
    with serve_app(create_app(EmbeddedStore(store_path), settings)) as base:
        yield DemoServer(base=base, store=store_path, admin=secret)
