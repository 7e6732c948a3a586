"""The embedded store's ordered ref lists: served until the next write, never stale."""

from __future__ import annotations

import asyncio
from typing import Any

from graph_api.ingest import SourceDocument, apply_source, validate
from graph_api.store import EntityFilter, EntityOrder
from graph_api.store._listing import Listings
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
    assert embedded.calls == calls + 1, "a second read of the list costs one record fetch"
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


def test_lists_are_dropped_by_generation_and_budget() -> None:
    listings = Listings(max_refs=5)
    listings.put("a", 2, ["x", "y", "z"])
    assert listings.get("a", 2) == ["x", "y", "z"]
    assert listings.get("a", 4) is None, "a write since"
    assert listings.get("a", 2) is None, "and gone for good"
    listings.put("odd", 3, ["x"])
    assert listings.get("odd", 3) is None, "read while a write ran"
    listings.put("b", 4, ["x", "y", "z"])
    listings.put("c", 4, ["x", "y"])
    assert listings.get("b", 4) is not None
    listings.put("d", 4, ["x"])
    assert listings.get("c", 4) is None, "least recently used goes first"
    assert listings.get("b", 4) is not None and listings.get("d", 4) is not None
    listings.put("huge", 4, list("abcdef"))
    assert listings.get("huge", 4) is None
