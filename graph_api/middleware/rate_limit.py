"""Per-client token buckets: per API/bearer token, or per client address without one."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from graph_api.middleware.errors import error_response
from graph_api.middleware.metrics import Metrics
from graph_api.settings import RateLimit

MAX_KEYS = 10_000


class TokenBuckets:
    """Token buckets by key, refilled continuously, in bounded memory.

    A bucket idle long enough to be full again is the same as a new one, so it is dropped;
    past ``max_keys`` the least recently used bucket goes too (that client gets a fresh burst).
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("rate limit: per_minute must be > 0 and burst >= 1 (or enabled=false)")
        self.rate = per_minute / 60
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._full_after = self.burst / self.rate
        # key -> (tokens, when last updated); ordered by last use, least recent first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Spend a token of ``key``: 0 when granted, else seconds until one is available."""
        now = self.clock()
        self._evict(now)
        tokens, updated = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        return wait

    def _evict(self, now: float) -> None:
        while self._buckets:
            key, (_, updated) = next(iter(self._buckets.items()))
            if len(self._buckets) < self.max_keys and now - updated < self._full_after:
                return
            del self._buckets[key]


def client_key(scope: Scope) -> tuple[str, str]:
    """``("token", hash)`` for a request with credentials, else ``("address", host)``."""
    authorization = Headers(scope=scope).get("authorization")
    if authorization:
        # Hashed so that secrets never sit in the bucket table.
        return "token", "token:" + hashlib.sha256(authorization.encode()).hexdigest()
    client = scope.get("client")
    return "address", "address:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Answer 429 with Retry-After once a client's bucket is empty; ``exempt`` paths pass."""

    def __init__(
        self, app: ASGIApp, *, limit: RateLimit, metrics: Metrics, exempt: Collection[str]
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(limit.per_minute, limit.burst)
        self.metrics = metrics
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        kind, key = client_key(scope)
        wait = self.buckets.take(key)
        if not wait:
            await self.app(scope, receive, send)
            return
        self.metrics.rate_limited.labels(kind).inc()
        response = error_response(
            429,
            "rate limit exceeded: retry later",
            "RATE_LIMITED",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
        await response(scope, receive, send)
