"""devgraph is an Apollo Federation v2 subgraph: its SDL composes with another subgraph that
extends ``Component``, and queries through a real ``@apollo/gateway`` cross both.

The other subgraph is a tiny on-call service (Python, Strawberry): it adds ``oncall`` to
``Component`` and has a root field of its own, whose components the gateway completes from
devgraph through ``_entities``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import strawberry
from _peers import component, group, instance_settings, prepare_store
from _server import serve_app
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL

from graph_api.app import create_app
from graph_api.store.embedded import EmbeddedStore
from tools.apollo import compose, gateway

ONCALL = {"component:default/checkout": "alice", "component:default/ledger": "bob"}


@strawberry.federation.type(keys=["ref"])
class Component:
    ref: str
    oncall: str

    @classmethod
    def resolve_reference(cls, ref: str) -> Component:
        return Component(ref=ref, oncall=ONCALL.get(ref, "nobody"))


@strawberry.type
class Query:
    @strawberry.field(description="Components whose on-call person is paged right now.")
    def paged(self) -> list[Component]:
        return [Component(ref=ref, oncall=who) for ref, who in sorted(ONCALL.items())]


ONCALL_SCHEMA = strawberry.federation.Schema(query=Query, federation_version="2.11")
SDL_QUERY = {"query": "{ _service { sdl } }"}


@pytest.fixture(scope="module")
def subgraphs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, object]]]:
    """devgraph over a small catalog and the on-call service, both served on loopback."""
    path = tmp_path_factory.mktemp("subgraph") / "store"
    catalog = [
        group("payments"),
        component("checkout", "component:ledger", owner="payments", title="Checkout"),
        component("ledger", owner="payments", title="Ledger"),
    ]
    token, _ = asyncio.run(prepare_store(path, catalog))
    oncall_app = Starlette(routes=[Route("/graphql", GraphQL(ONCALL_SCHEMA))])
    with (
        serve_app(create_app(EmbeddedStore(path), instance_settings(path))) as devgraph,
        serve_app(oncall_app) as oncall,
    ):
        yield [
            {
                "name": "devgraph",
                "url": f"{devgraph}/graphql",
                "headers": {"Authorization": f"Bearer {token}"},
            },
            {"name": "oncall", "url": f"{oncall}/graphql"},
        ]


def _sdl(subgraph: dict[str, object]) -> str:
    headers: dict[str, str] = subgraph.get("headers") or {}  # type: ignore[assignment]
    response = httpx.post(str(subgraph["url"]), json=SDL_QUERY, headers=headers, timeout=30)
    return str(response.json()["data"]["_service"]["sdl"])


def test_the_sdl_composes_with_a_subgraph_that_extends_component(
    subgraphs: list[dict[str, object]],
) -> None:
    sdls = [_sdl(s) for s in subgraphs]
    assert '@link(url: "https://specs.apollo.dev/federation/v2.11"' in sdls[0]
    assert 'type Component implements Entity & Node @key(fields: "ref")' in sdls[0]
    result = compose(
        [
            {"name": str(s["name"]), "url": str(s["url"]), "sdl": sdl}
            for s, sdl in zip(subgraphs, sdls, strict=True)
        ]
    )
    assert result["errors"] == [], result["errors"]
    supergraph = result["supergraphSdl"]
    assert "oncall: String! @join__field(graph: ONCALL)" in supergraph
    assert "blastRadius" in supergraph and "paged: [Component!]!" in supergraph


def test_a_conflicting_subgraph_fails_composition(subgraphs: list[dict[str, object]]) -> None:
    # The same check catches a real incompatibility: another subgraph typing `ref` differently.
    clash = 'type Component @key(fields: "ref") { ref: Int! } type Query { x: Int }'
    clash = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"]) '
        + clash
    )
    devgraph = subgraphs[0]
    result = compose(
        [
            {"name": "devgraph", "url": str(devgraph["url"]), "sdl": _sdl(devgraph)},
            {"name": "clash", "url": "http://127.0.0.1:9/graphql", "sdl": clash},
        ]
    )
    assert result["errors"] and any("ref" in e for e in result["errors"])


def test_queries_through_apollo_gateway_cross_both_subgraphs(
    subgraphs: list[dict[str, object]],
) -> None:
    with gateway(subgraphs) as url, httpx.Client(timeout=30) as client:
        # Starts in devgraph; the gateway asks the on-call service for `oncall`.
        body = client.post(
            url,
            json={
                "query": '{ component(ref: "checkout") { ref title oncall owner { ref } '
                "dependsOn { ref ... on Component { oncall } } } }"
            },
        ).json()
        assert "errors" not in body, body
        assert body["data"]["component"] == {
            "ref": "component:default/checkout",
            "title": "Checkout",
            "oncall": "alice",
            "owner": {"ref": "group:default/payments"},
            "dependsOn": [{"ref": "component:default/ledger", "oncall": "bob"}],
        }
        # Starts in the on-call service; devgraph resolves the references in one batch.
        body = client.post(
            url, json={"query": "{ paged { ref oncall title owner { ref } } }"}
        ).json()
        assert "errors" not in body, body
        assert body["data"]["paged"] == [
            {
                "ref": "component:default/checkout",
                "oncall": "alice",
                "title": "Checkout",
                "owner": {"ref": "group:default/payments"},
            },
            {
                "ref": "component:default/ledger",
                "oncall": "bob",
                "title": "Ledger",
                "owner": {"ref": "group:default/payments"},
            },
        ]
