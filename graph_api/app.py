"""The Starlette application: GraphQL (with GraphiQL), health, and graph exports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.export import MEDIA_TYPES, ExportFormat, dependency_digraph, render
from graph_api.model import RefError, normalize_ref
from graph_api.store import GraphStore


class DevgraphGraphQL(GraphQL[RequestContext, None]):
    def __init__(self, store: GraphStore, **kwargs: Any) -> None:
        super().__init__(build_schema(), **kwargs)
        self.store = store

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        return RequestContext(store=self.store)


def create_app(store: GraphStore, *, graphiql: bool = True) -> Starlette:
    """Wire the store into an ASGI app; the store is opened and closed with the app.

    Example:
        >>> app = create_app(EmbeddedStore(".devgraph"))  # doctest: +SKIP
    """
    graphql_app = DevgraphGraphQL(store, graphql_ide="graphiql" if graphiql else None)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        if await store.ping():
            return JSONResponse({"status": "ready", "store": store.name})
        return JSONResponse({"status": "unavailable", "store": store.name}, status_code=503)

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
        try:
            yield
        finally:
            await store.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/export/graph", export_graph),
        ],
        lifespan=lifespan,
    )


def _optional_ref(text: str | None, kind: str) -> str | None:
    return normalize_ref(text, default_kind=kind) if text else None
