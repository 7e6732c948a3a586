"""The store contract: every store (embedded always, Neo4j when NEO4J_URI is set) passes it."""

from __future__ import annotations

from typing import Any

import pytest

from graph_api.model import RelationType, parse_entity
from graph_api.store import (
    ChangeSet,
    Direction,
    EntityFilter,
    EntityOrder,
    GraphStore,
    PlacedEntity,
    Reached,
    StoreError,
)


def placed(kind: str, name: str, location: str = "t.yaml:1", **spec: Any) -> PlacedEntity:
    metadata: dict[str, Any] = {"name": name}
    for key in ("tags", "annotations", "title", "description", "namespace"):
        if key in spec:
            metadata[key] = spec.pop(key)
    doc = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
    return PlacedEntity(parse_entity(doc), location)


def svc(name: str, *deps: str, owner: str = "team-a", **spec: Any) -> PlacedEntity:
    return placed(
        "Component",
        name,
        type=spec.pop("type", "service"),
        lifecycle=spec.pop("lifecycle", "production"),
        owner=owner,
        dependsOn=[f"component:{d}" for d in deps],
        **spec,
    )


async def refs_of(store: GraphStore, where: EntityFilter | None = None) -> list[str]:
    records, _ = await store.find_entities(where or EntityFilter(), EntityOrder.REF, False, 0, 1000)
    return [r.ref for r in records]


async def test_apply_then_read_back(store: GraphStore) -> None:
    await store.apply(
        ChangeSet(
            "s1",
            upserts=[
                svc("a", "b", tags=["python"], title="Service A", annotations={"x.io/k": "v"}),
                svc("b"),
            ],
        )
    )
    a, missing = await store.get_entities(["component:default/a", "component:default/zzz"])
    assert missing is None
    assert a is not None and a.title == "Service A" and a.tags == ["python"]
    assert a.owner == "group:default/team-a" and a.source == "s1" and a.location == "t.yaml:1"
    assert a.descriptor["metadata"]["annotations"] == {"x.io/k": "v"}
    assert await refs_of(store) == ["component:default/a", "component:default/b"]
    # The owner group is referenced but undefined: kept as a stub, reported as unresolved.
    team = (await store.get_entities(["group:default/team-a"]))[0]
    assert team is not None and team.stub
    unresolved = await store.unresolved_refs()
    assert ("component:default/a", "ownedBy", "group:default/team-a") in unresolved
    assert await store.stats() == {"Component": 2}
    assert await store.ping()


async def test_filters(store: GraphStore) -> None:
    await store.apply(
        ChangeSet(
            "s1",
            upserts=[
                placed("Domain", "music", owner="team-a"),
                placed("System", "audio", owner="team-a", domain="music"),
                svc("player", system="audio", tags=["java"], annotations={"a.io/x": "1"}),
                svc("web", type="website", lifecycle="experimental", owner="team-b",
                    description="The Web Shop"),
                placed("Component", "ops-tool", type="library", lifecycle="production",
                       owner="team-a", namespace="ops"),
            ],
        )
    )
    comp = ["component"]
    assert await refs_of(store, EntityFilter(kinds=["COMPONENT"], types=["website"])) == [
        "component:default/web"
    ]
    assert await refs_of(store, EntityFilter(lifecycles=["Experimental"])) == ["component:default/web"]
    assert await refs_of(store, EntityFilter(namespaces=["ops"])) == ["component:ops/ops-tool"]
    assert await refs_of(store, EntityFilter(kinds=comp, owner="group:default/team-b")) == [
        "component:default/web"
    ]
    assert await refs_of(store, EntityFilter(system="system:default/audio")) == [
        "component:default/player"
    ]
    assert await refs_of(store, EntityFilter(domain="domain:default/music")) == [
        "component:default/player",
        "system:default/audio",
    ]
    assert await refs_of(store, EntityFilter(tag="java")) == ["component:default/player"]
    assert await refs_of(store, EntityFilter(annotation="a.io/x")) == ["component:default/player"]
    assert await refs_of(store, EntityFilter(annotation="a.io/x=1")) == ["component:default/player"]
    assert await refs_of(store, EntityFilter(annotation="a.io/x=2")) == []
    assert await refs_of(store, EntityFilter(text="web shop")) == ["component:default/web"]
    page, total = await store.find_entities(
        EntityFilter(kinds=comp), EntityOrder.NAME, True, 1, 1
    )
    assert total == 3 and [r.name for r in page] == ["player"]


async def test_update_replaces_declared_relations_only(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("a", "b"), svc("b"), svc("c", "a")]))
    await store.apply(ChangeSet("s1", upserts=[svc("a", "c")]))
    out = await store.related(["component:default/a"], RelationType.DEPENDS_ON, Direction.OUT)
    assert out["component:default/a"] == ["component:default/c"]
    incoming = await store.related(["component:default/a"], RelationType.DEPENDS_ON, Direction.IN)
    assert incoming["component:default/a"] == ["component:default/c"]


async def test_inverse_declaration_survives_update_of_the_other_end(store: GraphStore) -> None:
    db = placed("Resource", "db", type="database", owner="team-a", dependencyOf=["component:a"])
    await store.apply(ChangeSet("s1", upserts=[svc("a"), db]))
    await store.apply(ChangeSet("s1", upserts=[svc("a", owner="team-b")]))
    out = await store.related(["component:default/a"], RelationType.DEPENDS_ON, Direction.OUT)
    assert out["component:default/a"] == ["resource:default/db"]


async def test_delete_demotes_referenced_entities_to_stubs(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("a", "b"), svc("b", "x")]))
    await store.apply(ChangeSet("s1", deletes=["component:default/b"]))
    b, x = await store.get_entities(["component:default/b", "component:default/x"])
    assert b is not None and b.stub, "still referenced by a: kept as unresolved"
    assert x is None, "only b referenced x: the orphaned stub is gone"
    await store.apply(ChangeSet("s1", deletes=["component:default/a"]))
    assert await store.get_entities(["component:default/a", "component:default/b"]) == [None, None]
    assert await refs_of(store) == []


async def test_stub_becomes_real_when_defined(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("a", "b")]))
    await store.apply(ChangeSet("s2", upserts=[svc("b")]))
    b = (await store.get_entities(["component:default/b"]))[0]
    assert b is not None and not b.stub and b.source == "s2"
    dependents = await store.related(["component:default/b"], RelationType.DEPENDS_ON, Direction.IN)
    assert dependents["component:default/b"] == ["component:default/a"]


async def test_claims_and_source_claims(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("a", "b", location="x.yaml:3")]))
    claims = await store.claims(["component:default/a", "component:default/b"])
    assert list(claims) == ["component:default/a"]
    assert claims["component:default/a"].location == "x.yaml:3"
    mine = await store.source_claims("s1")
    assert list(mine) == ["component:default/a"]
    assert mine["component:default/a"].hash == svc("a", "b").entity.hash
    assert await store.source_claims("other") == {}


async def test_traversals(store: GraphStore) -> None:
    # hub <- a <- b <- c, and d -> hub; plus a cycle x -> y -> z -> x
    await store.apply(
        ChangeSet(
            "s1",
            upserts=[
                svc("hub"),
                svc("a", "hub"),
                svc("b", "a"),
                svc("c", "b"),
                svc("d", "hub"),
                svc("x", "y"),
                svc("y", "z"),
                svc("z", "x"),
            ],
        )
    )
    hub = "component:default/hub"
    reached = await store.reachable(hub, RelationType.DEPENDS_ON, Direction.IN, 10)
    def names(found: list[Reached]) -> list[tuple[str, int]]:
        return [(r.ref.rsplit("/", 1)[1], r.depth) for r in found]

    assert names(reached) == [("a", 1), ("d", 1), ("b", 2), ("c", 3)]
    assert {r.owner for r in reached} == {"group:default/team-a"}
    shallow = await store.reachable(hub, RelationType.DEPENDS_ON, Direction.IN, 2)
    assert [name for name, _ in names(shallow)] == ["a", "d", "b"]
    upstream = await store.reachable("component:default/c", RelationType.DEPENDS_ON, Direction.OUT, 10)
    assert names(upstream) == [("b", 1), ("a", 2), ("hub", 3)]
    cycle = await store.reachable("component:default/x", RelationType.DEPENDS_ON, Direction.OUT, 10)
    assert names(cycle) == [("y", 1), ("z", 2)]
    path = await store.shortest_path(
        "component:default/c", hub, RelationType.DEPENDS_ON, Direction.OUT, 10
    )
    assert path == ["component:default/c", "component:default/b", "component:default/a", hub]
    assert await store.shortest_path(hub, "component:default/c", RelationType.DEPENDS_ON, Direction.OUT, 10) is None
    undirected = await store.shortest_path(
        "component:default/d", "component:default/a", RelationType.DEPENDS_ON, Direction.BOTH, 10
    )
    assert undirected == ["component:default/d", hub, "component:default/a"]
    edges = await store.edges_among([hub, "component:default/a", "component:default/d"], RelationType.DEPENDS_ON)
    assert edges == [("component:default/a", hub), ("component:default/d", hub)]
    everything = await store.all_edges(RelationType.DEPENDS_ON)
    assert len(everything) == 7


async def test_failed_apply_writes_nothing(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("keep")]))
    # 5,001 new entities where the last repeats the first: the duplicate key fails in a later
    # batch, after earlier batches were already sent, and the whole change must roll back.
    batch = [svc(f"n{i}") for i in range(5000)] + [svc("n0")]
    with pytest.raises(StoreError):
        await store.apply(ChangeSet("s1", upserts=batch))
    assert await refs_of(store) == ["component:default/keep"]
    await store.apply(ChangeSet("s1", upserts=[svc("after")]))
    assert await refs_of(store) == ["component:default/after", "component:default/keep"]


async def test_unresolved_relations_read_from_the_declaring_side(store: GraphStore) -> None:
    db = placed("Resource", "db", type="database", owner="team-a", dependencyOf=["component:ghost"])
    await store.apply(ChangeSet("s1", upserts=[db]))
    assert await store.unresolved_refs() == [
        ("resource:default/db", "dependencyOf", "component:default/ghost"),
        ("resource:default/db", "ownedBy", "group:default/team-a"),
    ]
    ghost = (await store.get_entities(["component:default/ghost"]))[0]
    assert ghost is not None and ghost.stub and ghost.kind == "Component"
