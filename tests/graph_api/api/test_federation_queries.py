"""Federation in the API, in-process over the catalog of ``conftest.py``: ``peers``,
``changes(since:)`` for hubs, ``unit`` and ``provenance`` on entities, and the Apollo
Federation subgraph fields ``_service`` and ``_entities``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conftest import AUTH, CHECKOUT, DB, Catalog, execute, gql

from graph_api.model import parse_entity
from graph_api.store import ChangeSet, PeerRecord, PlacedEntity

CHANGES = """query($since: String, $first: Int, $after: String) {
  changes(since: $since, first: $first, after: $after) {
    cursor full totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ref removed entity { ref unit } } }
  }
}"""
UPSERT = "mutation($d: [JSON!]!) { upsertEntities(descriptors: $d) { added updated } }"


async def read_all(catalog: Catalog, since: str | None, first: int) -> tuple[list[Any], str, bool]:
    """Every page of changes since ``since``: the nodes, the cursor and the ``full`` flag."""
    nodes: list[Any] = []
    after = None
    while True:
        page = (await catalog.gql(CHANGES, since=since, first=first, after=after))["changes"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, page["cursor"], page["full"]
        after = page["pageInfo"]["endCursor"]


def federated_ledger() -> PlacedEntity:
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "ledger", "namespace": "payments"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team"},
    }
    provenance = {
        "peer": "payments-idp",
        "unit": "payments",
        "originalRef": "component:default/ledger",
        "syncedAt": "2025-06-01T00:00:00.000+00:00",
    }
    return replace(
        PlacedEntity(parse_entity(document), "http://idp#component:default/ledger"),
        source="peer:payments-idp",
        unit="payments",
        provenance=provenance,
    )


async def test_peers_lists_config_and_sync_status(catalog: Catalog) -> None:
    await catalog.store.put_peer(
        PeerRecord("retail", "backstage", "https://bs", "retail", "BS_TOKEN", 60, 5, "HELD", "why")
    )
    data = await catalog.gql(
        "{ peers { name kind unit url status error interval precedence entityCount lastSyncedAt } }"
    )
    assert data["peers"] == [
        {
            "name": "retail",
            "kind": "BACKSTAGE",
            "unit": "retail",
            "url": "https://bs",
            "status": "HELD",
            "error": "why",
            "interval": 60,
            "precedence": 5,
            "entityCount": 0,
            "lastSyncedAt": None,
        }
    ]


async def test_changes_lists_everything_then_only_what_changed(catalog: Catalog) -> None:
    everything, cursor, full = await read_all(catalog, None, 4)
    assert full and not any(node["removed"] for node in everything)
    listed = [node["ref"] for node in everything]
    assert listed == sorted(listed) and len(listed) == len(set(listed))
    assert {AUTH, CHECKOUT, DB} <= set(listed)
    await catalog.gql(
        UPSERT,
        d=[
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "fresh"},
                "spec": {"type": "service", "lifecycle": "production", "owner": "platform"},
            }
        ],
    )
    await catalog.gql('mutation { deleteEntity(ref: "web") { deleted } }')
    changed, later, full = await read_all(catalog, cursor, 1)
    assert not full and later > cursor
    by_ref = {node["ref"]: node for node in changed}
    assert by_ref["component:default/fresh"]["removed"] is False
    assert by_ref["component:default/web"] == {
        "ref": "component:default/web",
        "removed": True,
        "entity": None,
    }


async def test_changes_refuses_foreign_cursors_and_pages(catalog: Catalog) -> None:
    for variables, message in (
        ({"since": "yesterday"}, "since: not a cursor from changes"),
        ({"after": "bm9wZQ=="}, "after: not a cursor of changes"),
        ({"first": 0}, "first must be between 1 and 1000"),
    ):
        result = await execute(catalog.store, CHANGES, **variables)
        assert result.errors and result.errors[0].message == message
    page = (await catalog.gql(CHANGES, first=1))["changes"]
    result = await execute(catalog.store, CHANGES, since="", after=page["pageInfo"]["endCursor"])
    assert result.errors and "another `since`" in result.errors[0].message


async def test_entities_have_a_unit_and_provenance_and_filter_by_unit(catalog: Catalog) -> None:
    await catalog.store.apply(ChangeSet("peer:payments-idp", upserts=[federated_ledger()]))
    data = await catalog.gql(
        """{
          entities(filter: {unit: ["payments"]}) {
            nodes { ref unit provenance { peer unit originalRef syncedAt sources { peer } fields { field } } }
          }
          own: entity(ref: "auth") { unit provenance { peer } }
        }"""
    )
    assert data["entities"]["nodes"] == [
        {
            "ref": "component:payments/ledger",
            "unit": "payments",
            "provenance": {
                "peer": "payments-idp",
                "unit": "payments",
                "originalRef": "component:default/ledger",
                "syncedAt": "2025-06-01T00:00:00.000+00:00",
                "sources": [{"peer": "payments-idp"}],
                "fields": [],
            },
        }
    ]
    assert data["own"] == {"unit": None, "provenance": None}


async def test_service_sdl_is_the_subgraph_schema(catalog: Catalog) -> None:
    sdl = (await catalog.gql("{ _service { sdl } }"))["_service"]["sdl"]
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.11"')
    for kind in ("Component", "API", "Resource", "System", "Domain", "Group", "User"):
        assert f'type {kind} implements Entity & Node @key(fields: "ref")' in sdl


async def test_entities_resolve_references_in_one_store_call(catalog: Catalog) -> None:
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Component { ref title } ... on Resource { ref } } }"""
    representations = [
        {"__typename": "Component", "ref": AUTH},
        {"__typename": "Component", "ref": CHECKOUT},
        {"__typename": "Resource", "ref": DB},
        # A ref of another kind than the type asked, and one that does not exist: null.
        {"__typename": "Component", "ref": DB},
        {"__typename": "Component", "ref": "component:default/nope"},
    ]
    store = catalog.store
    before = store.calls  # type: ignore[attr-defined] - both stores count their calls
    data = await gql(store, query, r=representations)
    assert store.calls - before == 1  # type: ignore[attr-defined]
    assert data["_entities"] == [
        {"ref": AUTH, "title": None},
        {"ref": CHECKOUT, "title": None},
        {"ref": DB},
        None,
        None,
    ]
