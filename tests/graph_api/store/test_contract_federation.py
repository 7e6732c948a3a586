"""The store contract for federation: peer config and status, federated entities (unit,
provenance, the source each entity of a change set names), unit filters, keyset paging and
the audit trail read forward. Every store passes it (Neo4j when NEO4J_URI is set)."""

from __future__ import annotations

from dataclasses import replace

from graph_api.ingest import audit_event
from graph_api.model import parse_entity
from graph_api.store import (
    ChangeSet,
    EntityChange,
    EntityFilter,
    EntityOrder,
    GraphStore,
    PeerRecord,
    PlacedEntity,
)


def component(name: str, namespace: str = "default", *depends: str) -> PlacedEntity:
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "service",
            "lifecycle": "production",
            "owner": "team",
            "dependsOn": list(depends),
        },
    }
    return PlacedEntity(parse_entity(document), f"{namespace}.yaml:1")


def federated(name: str, unit: str, peer: str) -> PlacedEntity:
    placed = component(name, unit)
    provenance = {"peer": peer, "unit": unit, "originalRef": f"component:default/{name}"}
    return replace(placed, source=f"peer:{peer}", unit=unit, provenance=provenance)


async def test_peers_are_stored_replaced_listed_and_deleted(store: GraphStore) -> None:
    assert await store.get_peers() == []
    retail = PeerRecord("retail", "backstage", "https://bs.retail", "retail", "BS_TOKEN", 60, 5)
    payments = PeerRecord("payments", "devgraph", "http://idp.payments", "payments")
    await store.put_peer(retail)
    await store.put_peer(payments)
    assert await store.get_peers() == [payments, retail]
    synced = replace(
        retail, status="STALE", error="down", last_synced_at="2025-01-01T00:00:00Z", entity_count=7
    )
    await store.put_peer(synced)
    assert await store.get_peers() == [payments, synced]
    assert await store.delete_peer("retail")
    assert not await store.delete_peer("retail")
    assert await store.get_peers() == [payments]


async def test_federated_entities_keep_unit_provenance_and_their_own_source(
    store: GraphStore,
) -> None:
    # One change set (peer:retail's sync) also writes an entity of peer:payments.
    await store.apply(
        ChangeSet(
            "peer:retail",
            upserts=[
                federated("checkout", "retail", "retail"),
                federated("ledger", "payments", "payments"),
                component("local"),
            ],
        )
    )
    checkout, ledger, local = await store.get_entities(
        ["component:retail/checkout", "component:payments/ledger", "component:default/local"]
    )
    assert checkout is not None and ledger is not None and local is not None
    assert (checkout.unit, checkout.source) == ("retail", "peer:retail")
    assert (ledger.unit, ledger.source) == ("payments", "peer:payments")
    assert (local.unit, local.provenance, local.source) == (None, None, "peer:retail")
    assert checkout.provenance is not None and '"originalRef":"component:default/checkout"' in (
        checkout.provenance
    )
    units, total = await store.find_entities(
        EntityFilter(units=["payments", "retail"]), EntityOrder.REF, False, 0, 10
    )
    assert total == 2 and [r.ref for r in units] == [
        "component:payments/ledger",
        "component:retail/checkout",
    ]
    # A deleted federated entity that others still point at is a plain stub again.
    await store.apply(
        ChangeSet("api", upserts=[component("web", "default", "component:payments/ledger")])
    )
    await store.apply(ChangeSet("peer:payments", deletes=["component:payments/ledger"]))
    (stub,) = await store.get_entities(["component:payments/ledger"])
    assert stub is not None and stub.stub and (stub.unit, stub.provenance) == (None, None)


async def test_keyset_pages_after_a_ref(store: GraphStore) -> None:
    await store.apply(ChangeSet("s", upserts=[component(n) for n in "abcde"]))
    page, remaining = await store.find_entities(
        EntityFilter(ref_after="component:default/b"), EntityOrder.REF, False, 0, 2
    )
    assert remaining == 3
    assert [r.ref for r in page] == ["component:default/c", "component:default/d"]


async def test_the_audit_trail_reads_forward_from_an_event(store: GraphStore) -> None:
    events = []
    for name in "abc":
        event = audit_event(
            "t", "load", "s", [EntityChange(f"component:default/{name}", None, "h")]
        )
        await store.apply(ChangeSet("s", upserts=[component(name)], audit=event))
        events.append(event)
    assert [e.id for e in await store.audit_since(None, 10)] == [e.id for e in events]
    later = await store.audit_since(events[0].id, 1)
    assert [e.id for e in later] == [events[1].id]
    assert later[0].changes == events[1].changes
    assert await store.audit_since(events[2].id, 10) == []
