"""Peers as separate ``devgraph serve`` processes: one killed in the middle of a sync and
restarted, and two hubs that federate each other through their background syncs."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _peers import Instance, component, devgraph_process, group, prepare_store

from federation import add_peer, sync_peer
from graph_api.store import EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore

CATALOG = [group("team"), *(component(f"svc-{i:02d}", title=f"v1 {i}") for i in range(30))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def hub_refs(hub: EmbeddedStore) -> list[str]:
    records, _ = await hub.find_entities(EntityFilter(), EntityOrder.REF, False, 0, 10_000)
    return [r.ref for r in records]


def kill_after(process: Any, responses: int) -> Callable[[httpx.Response], Any]:
    """A response hook that kills ``process`` once it has answered ``responses`` requests."""
    seen = 0

    async def hook(response: httpx.Response) -> None:
        nonlocal seen
        seen += 1
        if seen == responses:
            process.kill()
            process.wait()

    return hook


async def test_a_peer_killed_mid_sync_loses_and_duplicates_nothing(
    hub: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, port = tmp_path / "peer", free_port()
    viewer, admin = await prepare_store(path, CATALOG)
    peer = Instance("peer", f"http://127.0.0.1:{port}", path, viewer, admin)
    monkeypatch.setenv("TOKEN_KILLED", viewer)
    await add_peer(hub, "killed", kind="devgraph", url=peer.base, token_env="TOKEN_KILLED")
    with devgraph_process(path, port) as process:
        assert (await sync_peer(hub, "killed", page_size=5)).status == "OK"
        before = await hub_refs(hub)
        assert len(before) == 31
        peer.upsert(*(component(f"svc-{i:02d}", title=f"v2 {i}") for i in range(3)))
        peer.delete("component:svc-10")
        peer.delete("component:svc-11")
        hooks = {"response": [kill_after(process, 2)]}
        async with httpx.AsyncClient(timeout=10, event_hooks=hooks) as client:
            report = await sync_peer(hub, "killed", page_size=5, client=client)
    assert report.status == "STALE" and report.error
    # Nothing of the partial read was written: the last good data is all there.
    assert await hub_refs(hub) == before
    (svc,) = await hub.get_entities(["component:killed/svc-00"])
    assert svc is not None and svc.title == "v1 0"
    (status,) = await hub.get_peers()
    assert status.status == "STALE" and status.error == report.error
    with devgraph_process(path, port):
        report = await sync_peer(hub, "killed", page_size=5)
    assert report.status == "OK"
    after = await hub_refs(hub)
    assert len(after) == len(set(after)) == 29
    assert set(before) - set(after) == {"component:killed/svc-10", "component:killed/svc-11"}
    titles = {r.ref: r.title for r in await hub.get_entities(after) if r is not None}
    assert [titles[f"component:killed/svc-0{i}"] for i in range(4)] == [
        "v2 0",
        "v2 1",
        "v2 2",
        "v1 3",
    ]


async def test_two_hubs_federating_each_other_never_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {"east": free_port(), "west": free_port()}
    tokens: dict[str, tuple[str, str]] = {}
    for unit, other in (("east", "west"), ("west", "east")):
        path = tmp_path / unit
        tokens[unit] = await prepare_store(
            path, [component(f"{unit}-api"), component(f"{unit}-db")]
        )
        store = EmbeddedStore(path)
        await store.open()
        await add_peer(
            store,
            other,
            kind="devgraph",
            url=f"http://127.0.0.1:{ports[other]}",
            token_env=f"TOKEN_{other.upper()}",
            interval=1,
        )
        await store.close()
    for unit, (viewer, _) in tokens.items():
        monkeypatch.setenv(f"TOKEN_{unit.upper()}", viewer)
    with (
        devgraph_process(tmp_path / "east", ports["east"]),
        devgraph_process(tmp_path / "west", ports["west"]),
    ):
        hubs = {
            u: Instance(u, f"http://127.0.0.1:{p}", tmp_path / u, *tokens[u])
            for u, p in ports.items()
        }
        expected = {
            "east": [
                "component:default/east-api",
                "component:default/east-db",
                "component:west/west-api",
                "component:west/west-db",
            ],
            "west": [
                "component:default/west-api",
                "component:default/west-db",
                "component:east/east-api",
                "component:east/east-db",
            ],
        }
        query = "{ entities(first: 100) { edges { node { ref } } } peers { status } }"

        def refs(unit: str) -> list[str]:
            data = hubs[unit].gql(query)
            return sorted(e["node"]["ref"] for e in data["entities"]["edges"])

        def converge(wanted: dict[str, list[str]]) -> None:
            deadline = time.monotonic() + 20
            while any(refs(u) != sorted(wanted[u]) for u in hubs):
                assert time.monotonic() < deadline, {u: refs(u) for u in hubs}
                time.sleep(0.2)

        converge(expected)
        # A change on each side, one after the other, travels by the next background syncs.
        # When west's change reached east, east had synced west after west held east's
        # change: had anything come back round, it would be in east's refs now.
        hubs["east"].upsert(component("east-cache"))
        expected["east"].append("component:default/east-cache")
        expected["west"].append("component:east/east-cache")
        converge(expected)
        hubs["west"].upsert(component("west-cache"))
        expected["west"].append("component:default/west-cache")
        expected["east"].append("component:west/west-cache")
        converge(expected)
        for hub in hubs.values():
            assert hub.gql(query)["peers"] == [{"status": "OK"}]
        changes = hubs["west"].gql(
            "{ changes { edges { node { ref entity { unit provenance { peer } } } } } }"
        )["changes"]["edges"]
        federated = {
            e["node"]["ref"]: e["node"]["entity"] for e in changes if e["node"]["entity"]["unit"]
        }
        assert federated == {
            f"component:east/east-{name}": {"unit": "east", "provenance": {"peer": "east"}}
            for name in ("api", "cache", "db")
        }
