"""Request ids, one JSON access-log line and metrics per request, and a generic 500 on crashes."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_api.middleware.errors import error_response
from graph_api.middleware.metrics import Metrics

access_log = logging.getLogger("devgraph.access")
error_log = logging.getLogger("devgraph.error")

HEADER = "X-Request-ID"
# An incoming id is kept only if it cannot smuggle anything into logs or headers.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when sane, else a new uuid4 hex."""
    incoming = Headers(scope=scope).get(HEADER)
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class AccessMiddleware:
    """Outermost layer: tags, logs and measures every request, and masks unhandled errors."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def route_label(self, scope: Scope) -> str:
        """The matched route's path template: raw paths would make metric labels unbounded."""
        for route in self.routes:
            if isinstance(route, Route | Mount) and route.matches(scope)[0] is not Match.NONE:
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        route = self.route_label(scope)
        # Shared with the app: authentication leaves the viewer here (``request.state``).
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "unhandled error",
                extra={"request_id": rid, "method": scope["method"], "path": scope["path"]},
            )
            self.metrics.errors.labels(route).inc()
            # Once the response has started the client can only get a cut-off body; the
            # server closes the connection when the app returns without finishing it.
            if not response_started:
                response = error_response(500, "internal server error", "INTERNAL_SERVER_ERROR")
                await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], route, status, seconds)
            client = scope.get("client")
            fields = {
                "request_id": rid,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": client[0] if client else None,
            }
            viewer = state.get("viewer")
            if viewer is not None:
                fields["viewer"] = viewer.name
            access_log.info("request", extra=fields)
