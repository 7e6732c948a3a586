"""The real app under a real uvicorn server on 127.0.0.1, spoken to over HTTP with httpx.

One server per module: the catalog of ``tests/graph_api/api/conftest.py`` is loaded into an
embedded store and a viewer token is created, the store is closed, and the app opens it
again in its lifespan, as ``devgraph serve`` does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import networkx as nx
import pytest
import uvicorn

from graph_api.app import create_app
from graph_api.security.tokens import create_token
from graph_api.settings import Settings
from graph_api.store.embedded import EmbeddedStore


def shared_catalog() -> ModuleType:
    """``tests/graph_api/api/conftest.py`` as a plain module (its fixtures do not apply here)."""
    name = "devgraph_tests_catalog"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "api" / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


cat = shared_catalog()
STARTUP_DEADLINE_S = 15.0
EXPORTED = sorted([*cat.COMPONENTS_REFS, cat.DB, cat.LEGACY_LIB])


@dataclass
class Running:
    base: str
    token: str

    def client(self, *, auth: bool = True) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=10)


async def prepare(store_path: Path, catalog: Path) -> str:
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        await cat.load_catalog(store, catalog)
        _, secret = await create_token(
            store, name="test-app", team=None, role="viewer", expires_at=None
        )
    finally:
        await store.close()
    return secret


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("app")
    store_path = root / "store"
    secret = asyncio.run(prepare(store_path, root / "catalog"))
    settings = Settings(store=store_path, graphiql=True, allow_anonymous_read=False)
    app = create_app(EmbeddedStore(store_path), settings)

    # Bound and listening before the server starts: early requests wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", ws="none", http="h11", log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not thread.is_alive():
                raise RuntimeError(
                    f"server did not become healthy (thread alive: {thread.is_alive()})"
                )
            try:
                if httpx.get(f"{base}/healthz", timeout=remaining).status_code == 200:
                    break
            except httpx.TransportError:
                continue
        yield Running(base=base, token=secret)
    finally:
        uv.should_exit = True
        thread.join(timeout=STARTUP_DEADLINE_S)
        sock.close()
    assert not thread.is_alive(), "server did not shut down"


def assert_no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', '.py"', "graph_api.", "site-packages"):
        assert leak not in text, text


# -- health ---------------------------------------------------------------------------------------


def test_health_and_readiness(server: Running) -> None:
    with server.client(auth=False) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.text == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "store": "embedded"}


# -- GraphQL --------------------------------------------------------------------------------------

QUERY = """query($ref: String!) {
  component(ref: $ref) { ref owner { ref } dependsOn { ref } }
  catalogStats { kind count }
}"""


def test_post_graphql_json(server: Running) -> None:
    with server.client() as client:
        response = client.post("/graphql", json={"query": QUERY, "variables": {"ref": "checkout"}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "errors" not in body
    component = body["data"]["component"]
    assert component["ref"] == cat.CHECKOUT
    assert component["owner"] == {"ref": cat.PAYMENTS}
    assert sorted(d["ref"] for d in component["dependsOn"]) == [cat.AUTH, cat.ORDERS, cat.DB]
    assert {s["kind"]: s["count"] for s in body["data"]["catalogStats"]} == cat.STATS


def test_get_graphql_with_query_parameters(server: Running) -> None:
    with server.client() as client:
        response = client.get(
            "/graphql",
            params={"query": QUERY, "variables": json.dumps({"ref": "Component:Default/My-Svc"})},
        )
    assert response.status_code == 200
    assert response.json()["data"]["component"] == {
        "ref": cat.MY_SVC,
        "owner": {"ref": cat.PLATFORM},
        "dependsOn": [{"ref": cat.AUTH}],
    }


def test_graphql_errors_over_http_carry_codes_not_tracebacks(server: Running) -> None:
    with server.client() as client:
        response = client.post("/graphql", json={"query": '{ entity(ref: "::") { ref } }'})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"entity": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "empty kind" in error["message"]
    assert_no_internals(response.text)


def test_graphiql_is_served_to_browsers(server: Running) -> None:
    with server.client(auth=False) as client:
        response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "<html" in response.text.lower()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"query": "{ catalogStats { kind } }"', id="truncated"),
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b'["a", "list"]', id="not-an-object"),
    ],
)
def test_malformed_json_body_is_a_client_error(server: Running, body: bytes) -> None:
    with server.client() as client:
        response = client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text
    assert_no_internals(response.text)


def test_graphql_needs_credentials(server: Running) -> None:
    query = {"query": "{ catalogStats { kind } }"}
    with server.client(auth=False) as client:
        anonymous = client.post("/graphql", json=query)
        wrong = client.post(
            "/graphql", json=query, headers={"Authorization": "Bearer dgp_not-a-token"}
        )
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "catalogStats" not in response.text
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


# -- exports --------------------------------------------------------------------------------------


def export(server: Running, **params: Any) -> httpx.Response:
    with server.client() as client:
        return client.get("/export/graph", params=params)


def test_export_graphml_round_trips_through_networkx(server: Running) -> None:
    response = export(server, format="graphml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphml+xml")
    graph = nx.read_graphml(io.BytesIO(response.content))
    assert sorted(graph.nodes) == EXPORTED
    assert sorted(graph.edges) == cat.DEPENDS_ON
    for ref, owner in cat.OWNERS.items():
        assert graph.nodes[ref]["owner"] == owner, ref
    assert graph.nodes[cat.LEGACY_LIB]["external"] is True
    # graphml is the default format
    assert export(server).content == response.content


def test_export_json_and_dot(server: Running) -> None:
    as_json = export(server, format="json")
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    graph = nx.node_link_graph(as_json.json(), edges="edges")
    assert sorted(graph.nodes) == EXPORTED and sorted(graph.edges) == cat.DEPENDS_ON

    dot = export(server, format="dot")
    assert dot.status_code == 200
    assert dot.headers["content-type"].startswith("text/vnd.graphviz")
    assert dot.text.startswith("digraph dependencies {")
    for source, target in cat.DEPENDS_ON:
        assert f'  "{source}" -> "{target}";\n' in dot.text
    assert dot.text.count(" -> ") == len(cat.DEPENDS_ON)


def test_export_filters(server: Running) -> None:
    by_team = nx.read_graphml(io.BytesIO(export(server, team="payments").content))
    mine = [cat.BILLING, cat.CHECKOUT, cat.INVOICES, cat.ORDERS, cat.WEB]
    assert sorted(by_team.nodes) == sorted([*mine, cat.AUTH, cat.DB])
    assert sorted(r for r, d in by_team.nodes(data=True) if d["external"]) == [cat.AUTH, cat.DB]

    by_system = export(server, system="System:Default/Infra", format="json")
    assert by_system.status_code == 200
    graph = nx.node_link_graph(by_system.json(), edges="edges")
    assert sorted(graph.nodes) == sorted([cat.AUTH, cat.GATEWAY, cat.MY_SVC, cat.DB])
    assert sorted(graph.edges) == sorted(
        [(cat.AUTH, cat.DB), (cat.GATEWAY, cat.AUTH), (cat.MY_SVC, cat.AUTH)]
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        pytest.param({"format": "svg"}, "format", id="bad-format"),
        pytest.param({"system": "system:"}, "empty name", id="bad-system-ref"),
        pytest.param({"team": "/x"}, "empty namespace", id="bad-team-ref"),
    ],
)
def test_export_rejects_bad_parameters(
    server: Running, params: dict[str, str], fragment: str
) -> None:
    response = export(server, **params)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert_no_internals(response.text)


def test_export_needs_credentials(server: Running) -> None:
    with server.client(auth=False) as client:
        response = client.get("/export/graph")
    assert response.status_code == 401
    assert "<graphml" not in response.text
