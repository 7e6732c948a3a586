"""Discovery against a local HTTP server on 127.0.0.1 that answers as GitHub and GitLab do.

The real APIs cannot be reached from here, so the fake answers with their documented shapes:
GitHub's ``Link: <...>; rel="next"`` pagination and a 403 with ``X-RateLimit-Remaining: 0`` /
``X-RateLimit-Reset``; GitLab's ``X-Next-Page`` pagination and a 429 with ``Retry-After``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from loaders.git.discovery import DiscoveryError, github_repositories, gitlab_repositories


class FakeForge(BaseHTTPRequestHandler):
    """Two pages per listing; the first request for page 2 is rate limited."""

    limited: set[str] = set()
    requests: list[tuple[str, dict[str, str]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # keep test output quiet

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, dict(self.headers)))
        if parts.path == "/orgs/acme/repos":
            self._github(query)
        elif parts.path == "/api/v4/groups/acme%2Fplatform/projects":
            self._gitlab(query)
        else:
            self._send(404, {"message": "Not Found"})

    def _github(self, query: dict[str, str]) -> None:
        page = int(query.get("page", "1"))
        if page == 2 and "github" not in self.limited:
            self.limited.add("github")
            reset = str(int(time.time()) + 2)
            headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            self._send(403, {"message": "API rate limit exceeded"}, headers)
            return
        repos = [
            {
                "clone_url": f"https://github.com/acme/r{page}a.git",
                "html_url": "",
                "archived": False,
            },
            {
                "clone_url": f"https://github.com/acme/r{page}b.git",
                "html_url": "",
                "archived": page == 2,
            },
        ]
        headers = {"X-RateLimit-Remaining": "4999"}
        if page == 1:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            headers["Link"] = (
                f'<{base}/orgs/acme/repos?per_page=100&page=2>; rel="next", '
                f'<{base}/orgs/acme/repos?per_page=100&page=2>; rel="last"'
            )
        self._send(200, repos, headers)

    def _gitlab(self, query: dict[str, str]) -> None:
        assert query["include_subgroups"] == "true" and query["per_page"] == "100"
        page = int(query.get("page", "1"))
        if page == 2 and "gitlab" not in self.limited:
            self.limited.add("gitlab")
            self._send(429, {"message": "429 Too Many Requests"}, {"Retry-After": "1"})
            return
        projects = [{"http_url_to_repo": f"https://gitlab.com/acme/platform/p{page}.git"}]
        headers = {"X-Next-Page": "2" if page == 1 else "", "RateLimit-Remaining": "599"}
        self._send(200, projects, headers)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def forge() -> Iterator[str]:
    FakeForge.limited = set()
    FakeForge.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeForge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_github_pages_and_waits_out_the_rate_limit(forge: str) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    repos = await github_repositories("acme", api=forge, token="t0ken", sleep=sleep)
    assert [r.clone_url for r in repos] == [
        "https://github.com/acme/r1a.git",
        "https://github.com/acme/r1b.git",
        "https://github.com/acme/r2a.git",  # r2b is archived
    ]
    assert len(waits) == 1 and 0 < waits[0] <= 4, "waited until X-RateLimit-Reset"
    paths = [path for path, _ in FakeForge.requests]
    assert paths == ["/orgs/acme/repos"] * 3  # page 1, page 2 limited, page 2 again
    assert FakeForge.requests[0][1]["Authorization"] == "Bearer t0ken"


async def test_gitlab_pages_by_next_page_and_honours_retry_after(forge: str) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    repos = await gitlab_repositories("acme/platform", api=forge, token="glpat", sleep=sleep)
    assert [r.clone_url for r in repos] == [
        "https://gitlab.com/acme/platform/p1.git",
        "https://gitlab.com/acme/platform/p2.git",
    ]
    assert waits == [1.0]
    assert FakeForge.requests[0][1]["PRIVATE-TOKEN"] == "glpat"


async def test_a_limit_longer_than_allowed_and_unknown_orgs_fail_clearly(forge: str) -> None:
    with pytest.raises(DiscoveryError, match="rate limited"):
        await github_repositories("acme", api=forge, max_wait=0.5)
    with pytest.raises(DiscoveryError, match="HTTP 404"):
        await github_repositories("nobody", api=forge)
