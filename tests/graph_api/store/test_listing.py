"""The embedded store's read cache (listings, records, relations): served until the next
write, never stale."""

from __future__ import annotations

import asyncio
from typing import Any

from graph_api.ingest import SourceDocument, apply_source, validate
from graph_api.store import EntityFilter, EntityOrder
from graph_api.model import RelationType
from graph_api.store import Direction, ReachGroup
from graph_api.store._cache import MISSING, GenerationCache
from graph_api.store.embedded import EmbeddedStore


def component(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team"},
    }


async def upsert(store: EmbeddedStore, *names: str) -> None:
    documents = [SourceDocument(component(n), f"test[{n}]", "test") for n in names]
    entities, rejected = validate(documents)
    assert not rejected
    await apply_source(store, "test", entities, mode="delta")


async def page(store: EmbeddedStore, offset: int, limit: int) -> tuple[list[str], int]:
    records, total = await store.find_entities(
        EntityFilter(kinds=["component"]), EntityOrder.REF, False, offset, limit
    )
    return [r.ref for r in records], total


async def test_pages_after_a_write_show_it(embedded: EmbeddedStore) -> None:
    await upsert(embedded, *(f"svc-{i:02d}" for i in range(0, 20, 2)))
    refs, total = await page(embedded, 2, 3)
    assert (refs, total) == ([f"component:default/svc-{i:02d}" for i in (4, 6, 8)], 10)
    calls = embedded.calls
    assert await page(embedded, 2, 3) == (refs, total)
    assert embedded.calls == calls, "a second read of the page is served from the cache"
    await upsert(embedded, "svc-05")
    refs, total = await page(embedded, 2, 3)
    assert (refs, total) == ([f"component:default/svc-{i:02d}" for i in (4, 5, 6)], 11)
    assert await page(embedded, 11, 5) == ([], 11)


async def test_a_list_read_while_a_write_runs_is_not_kept(embedded: EmbeddedStore) -> None:
    await upsert(embedded, "a")
    writing = asyncio.ensure_future(upsert(embedded, *(f"b-{i:03d}" for i in range(300))))
    while embedded._generation % 2 == 0 and not writing.done():  # noqa: SLF001 - the race
        await asyncio.sleep(0)
    await page(embedded, 0, 1)
    await writing
    assert (await page(embedded, 0, 1000))[1] == 301


async def test_records_and_relations_after_a_write_show_it(embedded: EmbeddedStore) -> None:
    await upsert(embedded, "a", "b")
    (a,) = await embedded.get_entities(["component:default/a"])
    owned = await embedded.related(["component:default/a"], RelationType.OWNED_BY, Direction.OUT)
    assert (
        a is not None and a.title is None and owned["component:default/a"] == ["group:default/team"]
    )
    calls = embedded.calls
    assert (await embedded.get_entities(["component:default/a"]))[0] is a
    assert embedded.calls == calls, "served from the cache"
    changed = {**component("a"), "metadata": {"name": "a", "title": "A"}}
    changed["spec"] = {**changed["spec"], "owner": "other"}
    entities, _ = validate([SourceDocument(changed, "test[a]", "test")])
    await apply_source(embedded, "test", entities, mode="delta")
    (a,) = await embedded.get_entities(["component:default/a"])
    owned = await embedded.related(["component:default/a"], RelationType.OWNED_BY, Direction.OUT)
    assert (
        a is not None and a.title == "A" and owned["component:default/a"] == ["group:default/other"]
    )


def test_values_are_dropped_by_generation_and_budget() -> None:
    listings: GenerationCache[list[str]] = GenerationCache(5, len)
    listings.put("a", 2, ["x", "y", "z"])
    assert listings.get("a", 2) == ["x", "y", "z"]
    assert listings.get("a", 4) is MISSING, "a write since"
    assert listings.get("a", 2) is MISSING, "and gone for good"
    listings.put("stale", 2, ["x"])
    assert listings.get("stale", 4) is MISSING, "read before the last write"
    listings.put("odd", 5, ["x"])
    assert listings.get("odd", 5) is MISSING, "read while a write ran"
    listings.put("b", 6, ["x", "y", "z"])
    listings.put("c", 6, ["x", "y"])
    assert listings.get("b", 6) is not MISSING
    listings.put("d", 6, ["x"])
    assert listings.get("c", 6) is MISSING, "least recently used goes first"
    assert listings.get("b", 6) is not MISSING and listings.get("d", 6) is not MISSING
    listings.put("huge", 6, list("abcdef"))
    assert listings.get("huge", 6) is MISSING
    records: GenerationCache[str | None] = GenerationCache(10)
    records.put("nothing", 4, None)
    assert records.get("nothing", 4) is None, "a ref nothing defines is worth keeping too"


async def test_a_read_only_process_keeps_nothing(embedded: EmbeddedStore) -> None:
    # Another process may write the file at any time: a reader must always ask it.
    await upsert(embedded, "a")
    await embedded.close()
    reader = EmbeddedStore(embedded.path, read_only=True)
    await reader.open()
    try:
        for _ in range(2):
            calls = reader.calls
            assert (await page(reader, 0, 10))[1] == 1
            assert reader.calls == calls + 2, "listed and fetched again"
    finally:
        await reader.close()


async def test_paging_after_a_ref_reads_the_kept_listing(embedded: EmbeddedStore) -> None:
    await upsert(embedded, *(f"svc-{i:02d}" for i in range(10)))
    after = EntityFilter(kinds=["component"], ref_after="component:default/svc-03")
    records, total = await embedded.find_entities(after, EntityOrder.REF, False, 1, 2)
    assert [r.ref for r in records] == ["component:default/svc-05", "component:default/svc-06"]
    assert total == 6
    past = EntityFilter(kinds=["component"], ref_after="component:default/zzz")
    assert await embedded.find_entities(past, EntityOrder.REF, False, 0, 5) == ([], 0)
    calls = embedded.calls
    await embedded.find_entities(after, EntityOrder.REF, False, 0, 2)
    assert embedded.calls == calls + 1, "one listing serves every page: only new records are read"


async def test_traversal_counts_after_a_write_show_it(embedded: EmbeddedStore) -> None:
    await upsert(embedded, "hub")
    user = {**component("user"), "spec": {**component("user")["spec"], "dependsOn": ["component:hub"]}}
    entities, rejected = validate([SourceDocument(user, "test[user]", "test")])
    assert not rejected
    await apply_source(embedded, "test", entities, mode="delta")

    async def counts() -> dict[Any, int]:
        return await embedded.reach_counts(
            "component:default/hub", RelationType.DEPENDS_ON, Direction.IN, 10, ReachGroup.DEPTH
        )

    assert await counts() == {1: 1}
    calls = embedded.calls
    assert await counts() == {1: 1} and embedded.calls == calls, "kept until the next write"
    other = {**component("other"), "spec": {**component("other")["spec"], "dependsOn": ["component:user"]}}
    entities, rejected = validate([SourceDocument(other, "test[other]", "test")])
    assert not rejected
    await apply_source(embedded, "test", entities, mode="delta")
    assert await counts() == {1: 1, 2: 1}
