"""The middleware stack under a real uvicorn server: request ids, JSON access logs, body
limits, rate limits, Prometheus metrics and masked internal errors.

Each test serves its own app (so buckets and metrics start empty) over an embedded store in
which two API tokens were created beforehand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from _server import DEADLINE_S, serve_app, wait_for
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from graph_api.app import create_app
from graph_api.middleware import JsonFormatter, TokenBuckets, configure_logging
from graph_api.security.tokens import create_token
from graph_api.settings import Limits, RateLimit, Settings
from graph_api.store.embedded import EmbeddedStore

QUERY = {"query": "{ entities { totalCount } }"}
GENEROUS = RateLimit(per_minute=6000, burst=1000)
HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Served:
    base: str
    store: EmbeddedStore
    alice: str
    bob: str

    def client(self, secret: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=10)


async def _tokens(store: EmbeddedStore) -> tuple[str, str]:
    await store.open()
    try:
        secrets = []
        for name in ("alice-ci", "bob-ci"):
            _, secret = await create_token(
                store, name=name, team=None, role="viewer", expires_at=None
            )
            secrets.append(secret)
    finally:
        await store.close()
    return secrets[0], secrets[1]


@contextlib.contextmanager
def serve(
    tmp_path: Path,
    *,
    rate_limit: RateLimit = GENEROUS,
    limits: Limits | None = None,
    routes: tuple[BaseRoute, ...] = (),
) -> Iterator[Served]:
    """The real app over a fresh store, under uvicorn on a free port in a background thread."""
    store = EmbeddedStore(tmp_path / "store")
    alice, bob = asyncio.run(_tokens(store))
    settings = Settings(
        store=store.path,
        allow_anonymous_read=True,
        rate_limit=rate_limit,
        limits=limits or Limits(),
    )
    with serve_app(create_app(store, settings, routes=routes)) as base:
        yield Served(base=base, store=store, alice=alice, bob=bob)


def metric_samples(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``/metrics`` parsed: (sample name, labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in response.text


# -- request ids and access logs -------------------------------------------------------------


def test_request_id_is_echoed_when_sane_and_generated_otherwise(tmp_path: Path) -> None:
    with serve(tmp_path) as served, served.client() as client:
        assert client.get("/healthz", headers={"X-Request-ID": "abc.DEF_1-2"}).headers[
            "X-Request-ID"
        ] == "abc.DEF_1-2"
        for insane in ("x" * 65, "evil id", "a/b", "", "ü".encode()):
            got = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
            assert HEX_ID.fullmatch(got), (insane, got)
        first, second = (client.get("/healthz").headers["X-Request-ID"] for _ in range(2))
        assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second) and first != second


def test_each_request_logs_one_json_access_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devgraph")
    caplog.handler.setFormatter(JsonFormatter())
    with serve(tmp_path) as served, served.client(served.alice) as client:
        response = client.post("/graphql", json=QUERY, headers={"X-Request-ID": "req-42"})
        assert response.status_code == 200, response.text

        def line_for_request() -> list[dict[str, object]] | None:
            lines = [json.loads(line) for line in caplog.text.splitlines()]
            mine = [line for line in lines if line.get("request_id") == "req-42"]
            return mine or None

        (entry,) = wait_for(line_for_request, "the access log line")
    assert entry["logger"] == "devgraph.access"
    assert entry["method"] == "POST"
    assert entry["path"] == "/graphql"
    assert entry["status"] == 200
    assert entry["client"] == "127.0.0.1"
    assert entry["viewer"] == "token:alice-ci"
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0


def test_configure_logging_writes_json_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("devgraph")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        configure_logging("info")
        configure_logging("info")  # idempotent: still one handler, one line per record
        logging.getLogger("devgraph.access").info("request", extra={"request_id": "r1"})
        logging.getLogger("devgraph.access").debug("hidden")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["message"] == "request" and entry["request_id"] == "r1"
    assert entry["level"] == "INFO" and entry["logger"] == "devgraph.access"


# -- body size limit -------------------------------------------------------------------------


def test_oversized_content_length_is_refused_before_the_body_is_read(tmp_path: Path) -> None:
    with serve(tmp_path, limits=Limits(max_body_bytes=1024)) as served:
        # A huge declared length and no body at all: only an answer before reading can come.
        host, port = served.base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as raw:
            raw.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000000\r\n\r\n"
            )
            head = raw.recv(65536).decode("latin-1")
        assert head.startswith("HTTP/1.1 413 "), head
        assert "x-request-id:" in head.lower()

        with served.client() as client:
            assert_error(client.post("/graphql", content=b"x" * 1025), 413, "PAYLOAD_TOO_LARGE")
            assert client.post("/graphql", json=QUERY).status_code == 200


def test_oversized_chunked_body_is_refused_while_streaming(tmp_path: Path) -> None:
    def chunks(count: int) -> Iterator[bytes]:
        yield b'{"query": "{ entities { totalCount } }"'
        for _ in range(count):
            yield b" " * 256
        yield b"}"

    with serve(tmp_path, limits=Limits(max_body_bytes=1024)) as served, served.client() as c:
        headers = {"Content-Type": "application/json"}
        small = c.post("/graphql", content=chunks(2), headers=headers)
        assert small.request.headers["transfer-encoding"] == "chunked"
        assert small.status_code == 200, small.text
        big = c.post("/graphql", content=chunks(16), headers=headers)
        assert big.request.headers["transfer-encoding"] == "chunked"
        assert_error(big, 413, "PAYLOAD_TOO_LARGE")


# -- rate limiting ---------------------------------------------------------------------------


def test_rate_limit_per_token_with_retry_after_and_exempt_probes(tmp_path: Path) -> None:
    with serve(tmp_path, rate_limit=RateLimit(per_minute=1, burst=5)) as served:
        with served.client(served.alice) as alice, served.client(served.bob) as bob:
            for _ in range(5):
                assert alice.post("/graphql", json=QUERY).status_code == 200
            refused = alice.post("/graphql", json=QUERY)
            assert_error(refused, 429, "RATE_LIMITED")
            assert int(refused.headers["Retry-After"]) >= 1
            assert HEX_ID.fullmatch(refused.headers["X-Request-ID"])

            assert bob.post("/graphql", json=QUERY).status_code == 200
            for _ in range(10):
                for path in ("/healthz", "/readyz", "/metrics"):
                    assert alice.get(path).status_code == 200, path
            samples = metric_samples(alice)
        assert samples[("devgraph_rate_limited_total", frozenset({("key", "token")}))] == 1
        refused_key = frozenset({("method", "POST"), ("route", "/graphql"), ("status", "429")})
        assert samples[("devgraph_http_requests_total", refused_key)] == 1


def test_token_buckets_refill_and_stay_bounded() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, max_keys=3, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert buckets.take("a") == 0
    for key in "bcdefg":
        buckets.take(key)
    assert len(buckets) <= 3
    now[0] += 2.0  # every bucket is full again, the same as none
    buckets.take("z")
    assert len(buckets) == 1
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=0, burst=5)


# -- metrics ---------------------------------------------------------------------------------


def test_metrics_count_requests_and_time_store_queries(tmp_path: Path) -> None:
    with serve(tmp_path) as served, served.client(served.alice) as client:
        assert client.post("/graphql", json=QUERY).status_code == 200
        assert client.post("/graphql", json={"query": "{ nope }"}).status_code == 200
        samples = metric_samples(client)
    ok = frozenset({("method", "POST"), ("route", "/graphql"), ("status", "200")})
    assert samples[("devgraph_http_requests_total", ok)] == 2
    latency = ("devgraph_http_request_duration_seconds_count", frozenset({("route", "/graphql")}))
    assert samples[latency] == 2
    store_counts = {
        dict(labels)["method"]: value
        for (name, labels), value in samples.items()
        if name == "devgraph_store_query_duration_seconds_count"
    }
    assert store_counts.get("find_entities", 0) >= 1, store_counts
    assert store_counts.get("token_by_hash", 0) >= 2, store_counts
    graphql_errors = {
        dict(labels)["code"]: value
        for (name, labels), value in samples.items()
        if name == "devgraph_graphql_errors_total"
    }
    assert sum(graphql_errors.values()) == 1, graphql_errors


# -- internal errors -------------------------------------------------------------------------


def test_internal_errors_are_logged_with_the_request_id_and_answered_generically(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internal detail")

    caplog.set_level(logging.INFO, logger="devgraph")
    with serve(tmp_path, routes=(Route("/boom", boom),)) as served, served.client() as client:
        response = client.get("/boom", headers={"X-Request-ID": "crash-1"})
        assert_error(response, 500, "INTERNAL_SERVER_ERROR")
        assert "secret internal detail" not in response.text
        assert response.headers["X-Request-ID"] == "crash-1"

        def error_record() -> logging.LogRecord | None:
            found = [r for r in caplog.records if r.name == "devgraph.error"]
            return found[0] if found else None

        record = wait_for(error_record, "the error log record")
        assert record.request_id == "crash-1"  # type: ignore[attr-defined]
        assert record.exc_info is not None and "secret internal detail" in str(record.exc_info[1])

        # A store that went away: readiness says so, and a store-backed route fails cleanly.
        asyncio.run(served.store.close())
        assert client.get("/readyz").status_code == 503
        assert_error(client.get("/export/graph"), 500, "INTERNAL_SERVER_ERROR")
        samples = metric_samples(client)
    assert samples[("devgraph_http_errors_total", frozenset({("route", "/boom")}))] == 1
    assert samples[("devgraph_http_errors_total", frozenset({("route", "/export/graph")}))] == 1
