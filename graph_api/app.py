"""The Starlette application: GraphQL (with GraphiQL), health, and graph exports.

The app only wires parts together: authentication turns the request's credentials into a
viewer, the policy decides what that viewer may do, and the GraphQL view executes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from graph_api.api.context import RequestContext
from graph_api.api.errors import ApiError
from graph_api.api.schema import build_schema
from graph_api.export import MEDIA_TYPES, ExportFormat, dependency_digraph, render
from graph_api.middleware import (
    AccessMiddleware,
    BodyLimitMiddleware,
    Metrics,
    RateLimitMiddleware,
    TimedStore,
)
from graph_api.model import RefError, normalize_ref
from graph_api.model.entity import JSON_OPTIONS
from graph_api.security import Policy, Viewer
from graph_api.security.authn import AuthenticationFailed, Authenticator
from graph_api.settings import Settings
from graph_api.store import GraphStore


def _unauthorized(message: str, code: str = "UNAUTHENTICATED", status: int = 401) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    headers = {"WWW-Authenticate": 'Bearer realm="devgraph"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class DevgraphGraphQL(GraphQL[RequestContext, None]):
    """The GraphQL view; every request carries the viewer that authentication established."""

    def __init__(
        self, store: GraphStore, policy: Policy, settings: Settings, *, metrics: Metrics
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
        )
        self.store = store
        self.policy = policy
        self.max_page = settings.limits.max_page
        self.changes_overlap_s = settings.changes_overlap_s
        self.metrics = metrics

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        return RequestContext(
            store=self.store,
            viewer=request.state.viewer,
            policy=self.policy,
            max_page=self.max_page,
            changes_overlap_s=self.changes_overlap_s,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        self.metrics.observe_graphql_errors(result.errors or [])
        return await super().process_result(request, result)

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a request: an object (or a batch array), else Strawberry's 400.

        Strawberry answers a JSONDecodeError with a 400 but lets deep nesting, bad UTF-8 and
        bodies that are a bare string or number through to a 500.
        """
        try:
            value = orjson.loads(data)
        except (ValueError, RecursionError) as exc:  # orjson's and Unicode errors are ValueErrors
            raise json.JSONDecodeError(f"request body is not JSON: {exc}", "", 0) from exc
        if not isinstance(value, dict | list):
            raise json.JSONDecodeError("request body must be a JSON object", "", 0)
        return value

    def encode_json(self, data: object) -> bytes:
        # orjson writes a page of 500 descriptors several times faster than json.dumps; YAML's
        # non-string mapping keys are written as strings, as everywhere else.
        return orjson.dumps(data, option=JSON_OPTIONS)

    def serves_ide(self, request: Request) -> bool:
        """GraphiQL is a static page: served without credentials (it sends them itself)."""
        return self.graphql_ide is not None and self.should_render_graphql_ide(request)


def create_app(
    store: GraphStore,
    settings: Settings | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
    background: Sequence[Callable[[GraphStore], Awaitable[None]]] = (),
) -> Starlette:
    """Wire the store into an ASGI app; the store is opened and closed with the app.

    Args:
        store: the graph store, opened and closed with the app.
        settings: server settings; defaults from the environment.
        routes: extra routes the CLI wires in (e.g. loaders' webhooks, which authenticate
            with their own signatures rather than bearer tokens).
        background: jobs the CLI wires in (e.g. federation's peer syncs), each run as a task
            over the open store while the app serves, and cancelled when it stops.

    Example:
        >>> app = create_app(EmbeddedStore(".devgraph"), Settings())  # doctest: +SKIP
    """
    settings = settings or Settings()
    metrics = Metrics()
    # Everything the app does with the store is timed; the proxy forwards every other attribute.
    store = cast(GraphStore, TimedStore(store, metrics.store_seconds))
    policy = Policy.from_settings(store, settings)
    authenticator = Authenticator(store, settings)
    graphql_app = DevgraphGraphQL(store, policy, settings, metrics=metrics)

    class Authenticated:
        """An ASGI app that admits a request only with valid credentials (or anonymous read)."""

        def __init__(self, app: ASGIApp, *, serves_ide: bool = False) -> None:
            self.app = app
            self.serves_ide = serves_ide

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            if self.serves_ide and graphql_app.serves_ide(request):
                request.state.viewer = Viewer.anonymous()
                await self.app(scope, receive, send)
                return
            try:
                viewer = await authenticator.authenticate(request.headers.get("authorization"))
                policy.require_read(viewer)
            except AuthenticationFailed as exc:
                await _unauthorized(str(exc))(scope, receive, send)
                return
            except ApiError as exc:
                await _unauthorized(str(exc), exc.code)(scope, receive, send)
                return
            request.state.viewer = viewer
            await self.app(scope, receive, send)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        if await store.ping():
            return JSONResponse({"status": "ready", "store": store.name})
        return JSONResponse({"status": "unavailable", "store": store.name}, status_code=503)

    async def metrics_page(request: Request) -> Response:
        return metrics.response()

    async def export_graph(request: Request) -> Response:
        try:
            fmt = ExportFormat(request.query_params.get("format", "graphml"))
        except ValueError:
            return JSONResponse({"error": "format must be graphml, dot or json"}, status_code=400)
        try:
            system = _optional_ref(request.query_params.get("system"), "System")
            team = _optional_ref(request.query_params.get("team"), "Group")
        except RefError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        graph = await dependency_digraph(store, system=system, team=team)
        return Response(render(graph, fmt), media_type=MEDIA_TYPES[fmt])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        tasks = [asyncio.create_task(job(store)) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # A job's own failure is its to log; here it must only not keep the store open.
            await asyncio.gather(*tasks, return_exceptions=True)
            await store.close()

    all_routes = [
        Route("/graphql", Authenticated(graphql_app, serves_ide=True), methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/export/graph", Authenticated(request_response(export_graph))),
        *routes,
    ]
    # Outermost first: every response, refusals included, gets a request id, a log line and
    # metrics; the cheap size check runs before a rate-limit token is spent.
    middleware = [
        Middleware(AccessMiddleware, metrics=metrics, routes=all_routes),
        Middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_body_bytes),
    ]
    if settings.rate_limit.enabled:
        # Probes and scrapes must keep working while a client is being throttled.
        exempt = ("/healthz", "/readyz", "/metrics")
        limit = settings.rate_limit
        middleware.append(
            Middleware(RateLimitMiddleware, limit=limit, metrics=metrics, exempt=exempt)
        )
    return Starlette(routes=all_routes, middleware=middleware, lifespan=lifespan)


def _optional_ref(text: str | None, kind: str) -> str | None:
    return normalize_ref(text, default_kind=kind) if text else None
