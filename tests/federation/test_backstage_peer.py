"""A Backstage peer read over its catalog REST API, from a real HTTP server that answers as
Backstage does: paged by cursors, diffed by etag, and kept whole when the server dies in the
middle of a listing, refuses the token, answers garbage or is too slow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _backstage import FakeBackstage
from _peers import component, group

from federation import add_peer, sync_peer
from federation._fetched import raw_entity
from graph_api.ingest import Rejection
from graph_api.model.entity import MAX_DEPTH
from graph_api.model import RelationType
from graph_api.store import Direction, EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore

TOKEN = "static-token-from-backend.auth.externalAccess"
COMPONENTS = 8
# A group, the components, and the Location Backstage generates for each registered file.
ENTITIES = 1 + COMPONENTS + (1 + COMPONENTS)


@pytest.fixture
def backstage(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeBackstage, str]]:
    catalog = FakeBackstage(TOKEN)
    catalog.put(group("team"), repo="org")
    for i in range(COMPONENTS):
        depends = ["component:svc-0"] if i else []
        catalog.put(component(f"svc-{i}", *depends, title=f"v1 {i}"), repo=f"svc-{i}")
    monkeypatch.setenv("BACKSTAGE_TOKEN", TOKEN)
    with catalog.serve() as base:
        yield catalog, base


async def legacy(hub: EmbeddedStore, base: str) -> None:
    await add_peer(
        hub, "backstage", kind="backstage", url=base, unit="legacy", token_env="BACKSTAGE_TOKEN"
    )


async def held(hub: EmbeddedStore) -> dict[str, str | None]:
    records, _ = await hub.find_entities(EntityFilter(), EntityOrder.REF, False, 0, 1000)
    return {r.ref: r.title for r in records}


async def test_a_catalog_is_paged_diffed_by_etag_and_kept_when_the_server_dies(
    hub: EmbeddedStore, backstage: tuple[FakeBackstage, str]
) -> None:
    catalog, base = backstage
    await legacy(hub, base)
    report = await sync_peer(hub, "backstage", page_size=5)
    assert report.status == "OK" and len(report.added) == ENTITIES
    cursors = [r for r in catalog.requests if "cursor=" in r]
    assert len(catalog.requests) == 4 and len(cursors) == 3
    first = await held(hub)
    assert sum(ref.startswith("location:legacy/generated-") for ref in first) == 1 + COMPONENTS
    related = await hub.related(["component:legacy/svc-3"], RelationType.DEPENDS_ON, Direction.OUT)
    assert related["component:legacy/svc-3"] == ["component:legacy/svc-0"]
    # Same etags: nothing parsed, nothing written.
    writes = hub.writes
    again = await sync_peer(hub, "backstage", page_size=5)
    assert again.unchanged == ENTITIES and hub.writes == writes
    catalog.put(component("svc-3", "component:svc-0", title="v2 3"), repo="svc-3")
    changed = await sync_peer(hub, "backstage", page_size=5)
    assert changed.updated == ["component:legacy/svc-3"]
    assert changed.unchanged == ENTITIES - 1
    # The backend dies in the middle of the listing: the hub keeps what it had.
    catalog.put(component("svc-4", "component:svc-0", title="v2 4"), repo="svc-4")
    catalog.drop_page = 2
    dropped = await sync_peer(hub, "backstage", page_size=5)
    assert dropped.status == "STALE" and "RemoteProtocolError" in (dropped.error or "")
    assert (await held(hub))["component:legacy/svc-4"] == "v1 4"
    (peer,) = await hub.get_peers()
    assert (peer.status, peer.entity_count) == ("STALE", ENTITIES)
    catalog.drop_page = None
    back = await sync_peer(hub, "backstage", page_size=5)
    assert back.status == "OK" and back.updated == ["component:legacy/svc-4"]
    now = await held(hub)
    assert len(now) == ENTITIES and set(now) == set(first)
    assert (now["component:legacy/svc-3"], now["component:legacy/svc-4"]) == ("v2 3", "v2 4")


async def test_a_wrong_or_missing_token_is_reported(
    hub: EmbeddedStore, backstage: tuple[FakeBackstage, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base = backstage
    await legacy(hub, base)
    monkeypatch.setenv("BACKSTAGE_TOKEN", "wrong")
    report = await sync_peer(hub, "backstage")
    assert report.status == "ERROR" and "refused the token (401)" in (report.error or "")
    monkeypatch.delenv("BACKSTAGE_TOKEN")
    report = await sync_peer(hub, "backstage")
    assert report.error == "$BACKSTAGE_TOKEN (the token for peer backstage) is not set"
    assert await held(hub) == {}


async def test_far_fewer_entities_are_held_until_accepted(
    hub: EmbeddedStore, backstage: tuple[FakeBackstage, str]
) -> None:
    catalog, base = backstage
    await legacy(hub, base)
    await sync_peer(hub, "backstage")
    for ref in [r for r in catalog.entities if not r.endswith(("/team", "/svc-0"))]:
        catalog.remove(ref)
    report = await sync_peer(hub, "backstage")
    assert report.status == "HELD" and "--accept-shrink" in (report.error or "")
    assert len(await held(hub)) == ENTITIES
    (peer,) = await hub.get_peers()
    assert peer.status == "HELD"
    accepted = await sync_peer(hub, "backstage", accept_shrink=True)
    assert accepted.status == "OK" and len(accepted.removed) == ENTITIES - 2
    assert sorted(await held(hub)) == ["component:legacy/svc-0", "group:legacy/team"]


async def test_garbage_and_slowness_keep_the_last_good_data(
    hub: EmbeddedStore, backstage: tuple[FakeBackstage, str]
) -> None:
    catalog, base = backstage
    await legacy(hub, base)
    # One entity Backstage would accept and devgraph rejects is reported; the rest load.
    catalog.entities["component:default/broken"] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "broken", "namespace": "default", "uid": "u", "etag": "e"},
        "spec": {"type": "service"},
    }
    report = await sync_peer(hub, "backstage")
    assert report.status == "OK" and len(report.added) == ENTITIES
    assert [r.ref for r in report.rejected] == ["component:default/broken"]
    assert "spec.owner: is required" in report.rejected[0].reason
    good = await held(hub)
    catalog.garbage = b"<html><body>502 Bad Gateway</body></html>"
    report = await sync_peer(hub, "backstage")
    assert report.status == "STALE" and "garbage" in (report.error or "")
    catalog.garbage = None
    catalog.delay = 0.5
    report = await sync_peer(hub, "backstage", timeout=0.1)
    assert report.status == "STALE" and "ReadTimeout" in (report.error or "")
    assert await held(hub) == good


def test_a_peer_document_nested_too_deeply_is_refused_not_crashed() -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(300):
        inner["x"] = {}
        inner = inner["x"]
    document = {**component("deep"), "spec": {**component("deep")["spec"], "extra": deep}}
    found = raw_entity(document, None, "https://backstage.example.com#deep")
    assert isinstance(found, Rejection)
    assert found.reason == f"component:default/deep: nested deeper than {MAX_DEPTH} levels"
