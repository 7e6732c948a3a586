"""Three business units' devgraphs federated into one hub: naming, cross-unit refs, same-as
merges with field precedence, provenance, incremental syncs, deletions, and a hub that never
re-imports what a peer federated itself. Every peer is a real devgraph served on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _peers import Instance, component, group, hub_gql

from federation import add_peer, hub_ref, peer_ref, remove_peer, sync_peer, sync_peers
from graph_api.ingest import SourceDocument, apply_source, validate
from graph_api.model import RelationType
from graph_api.model.federation import peer_source
from graph_api.store import Direction, EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore

Start = Callable[..., Instance]

PAYMENTS = [
    group("team"),
    component(
        "checkout",
        "component:auth",
        "component:search",
        title="Checkout",
        annotations={"github.com/project-slug": "acme/checkout"},
    ),
    component("ledger", "component:checkout"),
]
RETAIL = [
    group("team"),
    # The same name as payments' checkout, and a different entity: both keep their ref.
    component("checkout", "component:search", title="Retail checkout UI"),
    # The same entity as payments' checkout (same repository), under another name.
    component(
        "cart",
        "component:ledger",
        description="Cart and checkout",
        annotations={"github.com/project-slug": "acme/checkout"},
    ),
    component("search"),
]
IDENTITY = [group("team"), component("auth"), component("search")]


async def three_units(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Instance]:
    """Serve the three units and configure them as peers of ``hub`` (payments wins merges)."""
    instances = {
        "payments": devgraph("payments", PAYMENTS),
        "retail": devgraph("retail", RETAIL),
        "identity": devgraph("identity", IDENTITY),
    }
    for precedence, (unit, peer) in zip((10, 5, 0), instances.items(), strict=True):
        monkeypatch.setenv(f"TOKEN_{unit.upper()}", peer.token)
        await add_peer(
            hub,
            f"{unit}-idp",
            kind="devgraph",
            url=peer.base,
            unit=unit,
            token_env=f"TOKEN_{unit.upper()}",
            precedence=precedence,
        )
    return instances


async def refs(hub: EmbeddedStore, **where: object) -> list[str]:
    records, _ = await hub.find_entities(EntityFilter(**where), EntityOrder.REF, False, 0, 1000)  # type: ignore[arg-type]
    return [r.ref for r in records]


async def depends_on(hub: EmbeddedStore, ref: str) -> list[str]:
    return (await hub.related([ref], RelationType.DEPENDS_ON, Direction.OUT))[ref]


def test_the_naming_rule_keeps_units_apart_and_reverses() -> None:
    assert hub_ref("payments", "component:default/checkout") == "component:payments/checkout"
    assert hub_ref("payments", "component:ops/cron") == "component:payments--ops/cron"
    assert peer_ref("component:payments--ops/cron") == ("payments", "component:ops/cron")
    assert peer_ref("component:retail/checkout") == ("retail", "component:default/checkout")


async def test_three_units_merge_into_one_view(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_units(hub, devgraph, monkeypatch)
    reports = await sync_peers(hub)
    assert [r.status for r in reports] == ["OK", "OK", "OK"]
    assert await refs(hub) == [
        "component:identity/auth",
        "component:identity/search",
        "component:payments/checkout",
        "component:payments/ledger",
        "component:retail/checkout",
        "component:retail/search",
        "group:identity/team",
        "group:payments/team",
        "group:retail/team",
    ]
    # retail's cart is payments' checkout: one entity, payments' ref; its refs now lead there.
    assert "component:retail/cart" not in await refs(hub)
    # Inside its unit first; across units when exactly one other unit defines the ref.
    assert await depends_on(hub, "component:retail/checkout") == ["component:retail/search"]
    checkout = await depends_on(hub, "component:payments/checkout")
    assert checkout == ["component:identity/auth", "component:payments/search"]
    # search is defined by retail and identity: ambiguous, reported, never guessed.
    ambiguous = [line for r in reports for line in r.ambiguous]
    assert any(
        "component:default/search" in line
        and "component:retail/search" in line
        and "component:identity/search" in line
        for line in ambiguous
    ), ambiguous
    unresolved = await hub.unresolved_refs()
    assert ("component:payments/checkout", "dependsOn", "component:payments/search") in unresolved
    # Everything works across units: identity's auth has payments' checkout and ledger as
    # dependents (ledger through checkout).
    data = await hub_gql(
        hub,
        """{
          blastRadius(ref: "component:identity/auth") { total dependents { ref } }
          retail: entities(filter: {unit: ["retail"]}) { totalCount }
          entity(ref: "component:payments/checkout") {
            unit title description
            provenance { peer unit originalRef syncedAt sources { peer originalRef } fields { field peer } }
          }
        }""",
    )
    assert data["blastRadius"]["total"] == 2
    assert data["retail"]["totalCount"] == 3
    merged = data["entity"]
    assert merged["unit"] == "payments"
    assert (merged["title"], merged["description"]) == ("Checkout", "Cart and checkout")
    provenance = merged["provenance"]
    assert (provenance["peer"], provenance["originalRef"]) == (
        "payments-idp",
        "component:default/checkout",
    )
    assert provenance["syncedAt"]
    assert provenance["sources"] == [
        {"peer": "payments-idp", "originalRef": "component:default/checkout"},
        {"peer": "retail-idp", "originalRef": "component:default/cart"},
    ]
    fields = {f["field"]: f["peer"] for f in provenance["fields"]}
    assert fields["metadata.title"] == "payments-idp"
    assert fields["metadata.description"] == "retail-idp"
    assert fields["spec.dependsOn"] == "payments-idp"


async def test_a_change_in_one_unit_moves_refs_in_the_others(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = await three_units(hub, devgraph, monkeypatch)
    await sync_peers(hub)
    # identity drops its search: payments' checkout now resolves search in retail alone.
    units["identity"].delete("component:search")
    report = await sync_peer(hub, "identity-idp")
    assert report.removed == ["component:identity/search"]
    assert report.restitched == ["component:payments/checkout"]
    checkout = await depends_on(hub, "component:payments/checkout")
    assert checkout == ["component:identity/auth", "component:retail/search"]
    # payments gives up the checkout repository: retail's cart is its own entity again.
    units["payments"].upsert(component("checkout", "component:auth", title="Checkout"))
    report = await sync_peer(hub, "payments-idp")
    assert report.updated == ["component:payments/checkout"]
    assert "component:retail/cart" in report.restitched
    assert await depends_on(hub, "component:retail/cart") == ["component:payments/ledger"]
    (cart,) = await hub.get_entities(["component:retail/cart"])
    assert cart is not None and cart.source == peer_source("retail-idp")
    # Removing a peer takes its entities out; the refs into them resolve again.
    await remove_peer(hub, "identity-idp")
    assert await refs(hub, units=["identity"]) == []
    assert "component:payments/auth" in await depends_on(hub, "component:payments/checkout")


async def test_incremental_syncs_read_only_what_changed(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No overlap: the listing since the hub's cursor holds exactly the later changes.
    catalog = [group("team"), *(component(f"svc-{i:02d}") for i in range(40))]
    peer = devgraph("big", catalog, changes_overlap_s=0)
    monkeypatch.setenv("TOKEN_BIG", peer.token)
    await add_peer(hub, "big", kind="devgraph", url=peer.base, token_env="TOKEN_BIG")
    first = await sync_peer(hub, "big", page_size=7)
    assert len(first.added) == 41 and first.status == "OK"
    # Unchanged: the peer lists nothing, the hub writes nothing.
    writes = hub.writes
    again = await sync_peer(hub, "big")
    assert (again.added, again.updated, again.removed, again.unchanged) == ([], [], [], 0)
    assert hub.writes == writes
    peer.upsert(component("svc-03", title="Three"), component("svc-99"))
    peer.delete("component:svc-07")
    cursor = (await hub.source_states([peer_source("big")]))[peer_source("big")]["cursor"]
    listed = peer.gql(
        "query($s: String) { changes(since: $s) { full edges { node { ref removed } } } }", s=cursor
    )["changes"]
    assert not listed["full"]
    assert [e["node"] for e in listed["edges"]] == [
        {"ref": "component:default/svc-03", "removed": False},
        {"ref": "component:default/svc-07", "removed": True},
        {"ref": "component:default/svc-99", "removed": False},
    ]
    delta = await sync_peer(hub, "big")
    assert (delta.added, delta.updated, delta.removed) == (
        ["component:big/svc-99"],
        ["component:big/svc-03"],
        ["component:big/svc-07"],
    )
    assert len(await refs(hub, units=["big"])) == 41
    peers = await hub_gql(hub, "{ peers { name kind unit status entityCount error lastSyncedAt } }")
    assert peers["peers"] == [
        {
            "name": "big",
            "kind": "DEVGRAPH",
            "unit": "big",
            "status": "OK",
            "entityCount": 41,
            "error": None,
            "lastSyncedAt": peers["peers"][0]["lastSyncedAt"],
        }
    ]


async def test_a_change_delivered_twice_is_written_once(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the default overlap, a recent change comes again at the next sync: it is the same
    # content, so the hub does not write it again.
    peer = devgraph("twice", [component("a"), component("b")])
    monkeypatch.setenv("TOKEN_TWICE", peer.token)
    await add_peer(hub, "twice", kind="devgraph", url=peer.base, token_env="TOKEN_TWICE")
    await sync_peer(hub, "twice")
    writes = hub.writes
    report = await sync_peer(hub, "twice")
    assert report.unchanged == 2 and hub.writes == writes


async def test_same_as_keys_monorepos_and_the_hubs_own_entities(
    hub: EmbeddedStore, devgraph: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    mono = {"github.com/project-slug": "acme/mono"}
    north = devgraph(
        "north",
        [
            # Two components of one repository: the slug identifies neither.
            component("web", annotations=mono),
            component("worker", annotations=mono),
            component("billing", annotations={"devgraph.io/same-as": "Billing-Service"}),
            component("checkout"),
        ],
    )
    south = devgraph(
        "south",
        [
            component("mono-web", annotations=mono),
            # devgraph.io/same-as is the only key when present: the slug does not count.
            component(
                "invoicing",
                title="Invoicing",
                annotations={"devgraph.io/same-as": "billing-service", **mono},
            ),
        ],
    )
    # The hub's own catalog already defines north's checkout ref.
    documents = [SourceDocument(component("checkout", namespace="north"), "hub.yaml:1", "hub.yaml")]
    entities, _ = validate(documents)
    await apply_source(hub, "hub.yaml", entities)
    for peer in (north, south):
        monkeypatch.setenv(f"TOKEN_{peer.name.upper()}", peer.token)
        await add_peer(
            hub, peer.name, kind="devgraph", url=peer.base, token_env=f"TOKEN_{peer.name.upper()}"
        )
    north_report, _ = await sync_peers(hub)
    assert await refs(hub, units=["north", "south"]) == [
        "component:north/billing",
        "component:north/web",
        "component:north/worker",
        "component:south/mono-web",
    ]
    (billing,) = await hub.get_entities(["component:north/billing"])
    assert billing is not None and billing.title == "Invoicing"
    assert north_report.conflicts == [
        (
            "component:north/checkout: already defined by source hub.yaml at hub.yaml:1; "
            "the copy of peer north is not merged"
        )
    ]
    (checkout,) = await hub.get_entities(["component:north/checkout"])
    assert checkout is not None and checkout.source == "hub.yaml" and checkout.unit is None
    assert north_report.entity_count == 3
