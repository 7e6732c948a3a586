"""Refuse request bodies over a size limit: by Content-Length up front, else while streaming."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_api.middleware.errors import error_response


class _BodyTooLarge(Exception):
    """The streamed body passed the limit (raised out of ``receive`` to stop the app)."""


class BodyLimitMiddleware:
    """Answer 413 to bodies over ``max_bytes``; chunked bodies are counted as they arrive."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.isdigit():
            await error_response(400, "invalid Content-Length", "BAD_REQUEST")(scope, receive, send)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise  # too late for a 413: let the error handling outside report it
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body exceeds {self.max_bytes} bytes"
        await error_response(413, message, "PAYLOAD_TOO_LARGE")(scope, receive, send)
