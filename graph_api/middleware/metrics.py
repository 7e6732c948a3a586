"""Prometheus instruments of one app, and a store proxy that times every store call."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

from graph_api.store import GraphStore

# Embedded store calls take well under a millisecond; the default buckets start at 5 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Clients may send any token as a method; unknown ones share a label to bound cardinality.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The app's instruments, in a registry of its own so that many apps can coexist."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "devgraph_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "devgraph_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "devgraph_http_errors",
            "Requests that failed with an unhandled exception, by route.",
            ["route"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "devgraph_rate_limited",
            "Requests refused with 429, by what the limit was keyed on (token or address).",
            ["key"],
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "devgraph_store_query_duration_seconds",
            "Time spent in awaited store calls, by store method.",
            ["method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.graphql_errors = Counter(
            "devgraph_graphql_errors",
            "GraphQL errors in responses, by extensions.code.",
            ["code"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_graphql_errors(self, errors: Sequence[GraphQLError]) -> None:
        for error in errors:
            code = (error.extensions or {}).get("code", "UNSPECIFIED")
            self.graphql_errors.labels(str(code)).inc()

    def response(self) -> Response:
        """The registry in the Prometheus text exposition format."""
        return Response(
            generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


class TimedStore:
    """A store proxy: attributes pass through; coroutine methods are timed per method name.

    Example:
        >>> TimedStore(EmbeddedStore(".devgraph"), Metrics().store_seconds)  # doctest: +SKIP
    """

    def __init__(self, store: GraphStore, histogram: Histogram) -> None:
        self._store = store
        self._histogram = histogram

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        timer = self._histogram.labels(name)

        @functools.wraps(attribute)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            with timer.time():
                return await attribute(*args, **kwargs)

        # Kept on the proxy, so later lookups skip this (a tenth of a small query's time).
        setattr(self, name, timed)
        return timed
