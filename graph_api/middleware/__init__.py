"""ASGI middleware for operability and abuse resistance, one concern per module."""

from __future__ import annotations

from graph_api.middleware.access import AccessMiddleware
from graph_api.middleware.body_limit import BodyLimitMiddleware
from graph_api.middleware.logs import JsonFormatter, configure_logging
from graph_api.middleware.metrics import Metrics, TimedStore
from graph_api.middleware.rate_limit import RateLimitMiddleware, TokenBuckets

__all__ = [
    "AccessMiddleware",
    "BodyLimitMiddleware",
    "JsonFormatter",
    "Metrics",
    "RateLimitMiddleware",
    "TimedStore",
    "TokenBuckets",
    "configure_logging",
]
