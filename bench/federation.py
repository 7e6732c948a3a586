"""Federation benchmark: peers merged into a hub from scratch, a 1% change on one peer, and
query latency on the hub against a single instance.

``python -m bench.federation [--peers 5] [--components 14000] [--repeats 3] [--json]``
generates one demo estate per peer (``--components 14000`` gives about 20k entities: teams,
users, systems, APIs, resources), loads each into its own store, serves each with a real
``devgraph serve`` process, then measures, each figure the median of ``--repeats`` runs:

- merge from scratch: ``sync_peers`` into an empty hub, every peer read over HTTP;
- a 1% change on one peer (updates, additions, deletions over its API) synced by itself;
- an unchanged peer's sync (no writes);
- GraphQL latency (p50 of 50) of the same queries on the hub and on one peer, with the size
  of each answer: on the hub a component merged across units (a shared repository) carries
  the dependents of every unit, so a blast radius there reaches further.

Peers run with ``DEVGRAPH_CHANGES_OVERLAP_S=0``: the figures are the steady state, where a
hub's last sync is older than the overlap; with the default overlap (300 s), a sync in the
five minutes after a bulk change reads that change again (it writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.__main__ import percentile, server, timed_queries
from devgraph.demo import ORG, generate_estate
from federation import add_peer, sync_peer, sync_peers
from federation.merge import PROJECT_SLUG, SOURCE_LOCATION
from graph_api.ingest import apply_source, validate
from graph_api.security.tokens import create_token
from graph_api.store import EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.files import FileSource

console = Console(stderr=True)
QUERY_REPEAT = 50


async def prepare_peer(estate: Path, store_path: Path, unit: str) -> tuple[str, int]:
    """Load ``estate`` into a new store as if upserted over its API; an admin token and the
    number of entities.

    The demo names every component's repository ``acme/<name>``, so components of the same
    name in two units would all be the same entity; here 99% of repositories are the unit's
    own, and the 1% left are shared, merged across units as the same entity.
    """
    read = FileSource(estate, fetch_remote=False).read()
    for document in read.documents:
        annotations = document.data["metadata"].get("annotations") or {}
        slug = annotations.get(PROJECT_SLUG)
        if slug and zlib.crc32(slug.encode()) % 100:
            own = slug.replace(f"{ORG}/", f"{ORG}-{unit}/")
            annotations[PROJECT_SLUG] = own
            annotations[SOURCE_LOCATION] = f"url:https://github.com/{own}"
    entities, rejected = validate(read.documents)
    if rejected or read.rejected:
        raise RuntimeError(f"the estate did not load cleanly: {(rejected or read.rejected)[:3]}")
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        await apply_source(store, "api", entities, mode="delta")
        _, admin = await create_token(store, name="bench", team=None, role="admin", expires_at=None)
    finally:
        await store.close()
    return admin, len(entities)


async def scratch_merge(hub_path: Path, bases: list[str]) -> tuple[float, int]:
    """Seconds to merge every peer into an empty hub, closing it included (the write-ahead
    log is checkpointed then), and the entities it then holds."""
    hub = EmbeddedStore(hub_path)
    await hub.open()
    try:
        for index, base in enumerate(bases):
            # Syncs are timed here; an hour's interval keeps the hub's server from syncing
            # again while its queries are timed (its last syncs are recent: see schedule.py).
            await add_peer(hub, f"unit{index}", kind="devgraph", url=base, interval=3600)
        start = time.perf_counter()
        reports = await sync_peers(hub)
        failed = [r.summary() for r in reports if not r.ok]
        if failed:
            raise RuntimeError(f"a peer failed to sync: {failed}")
        _, total = await hub.find_entities(EntityFilter(), EntityOrder.REF, False, 0, 0)
    finally:
        await hub.close()
    return time.perf_counter() - start, total


def change_one_percent(
    base: str, admin: str, round_: int, components: list[str], entities: int
) -> int:
    """Change 1% of a peer's ``entities`` over its API, different components each round:
    90% of it updates, 5% additions, 5% deletions. How many changed."""
    headers = {"Authorization": f"Bearer {admin}"}
    size = max(entities // 100, 3)
    added = deleted = max(size // 20, 1)
    updated = size - added - deleted
    updates = components[round_ * updated : (round_ + 1) * updated]
    end = len(components) - round_ * deleted
    deletes = components[end - deleted : end]
    descriptors = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name, "description": f"changed in round {round_}"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "bench-team"},
        }
        for name in [*updates, *(f"bench-new-{round_}-{i}" for i in range(added))]
    ]
    mutation = "mutation($d: [JSON!]!) { upsertEntities(descriptors: $d) { added updated } }"
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        body = client.post("/graphql", json={"query": mutation, "variables": {"d": descriptors}})
        body.raise_for_status()
        for name in deletes:
            client.post(
                "/graphql",
                json={"query": f'mutation {{ deleteEntity(ref: "{name}") {{ deleted }} }}'},
            ).raise_for_status()
    return len(descriptors) + len(deletes)


async def component_names(store_path: Path) -> list[str]:
    store = EmbeddedStore(store_path, read_only=True)
    await store.open()
    try:
        records, _ = await store.find_entities(
            EntityFilter(kinds=["component"]), EntityOrder.REF, False, 0, 1_000_000
        )
        return [r.name for r in records]
    finally:
        await store.close()


async def incremental(
    hub_path: Path, base: str, admin: str, names: list[str], entities: int, repeats: int
) -> dict[str, Any]:
    """Seconds to sync a 1% change on one peer, and an unchanged peer."""
    hub = EmbeddedStore(hub_path)
    await hub.open()
    changed, unchanged, sizes = [], [], []
    try:
        for round_ in range(repeats):
            sizes.append(change_one_percent(base, admin, round_, names, entities))
            start = time.perf_counter()
            report = await sync_peer(hub, "unit0")
            changed.append(time.perf_counter() - start)
            if not report.ok or not report.updated:
                raise RuntimeError(f"the 1% sync did not apply: {report.summary()}")
            writes = hub.writes
            start = time.perf_counter()
            await sync_peer(hub, "unit0")
            unchanged.append(time.perf_counter() - start)
            if hub.writes != writes:
                raise RuntimeError("an unchanged peer's sync wrote")
    finally:
        await hub.close()
    return {
        "changed_entities": sizes[0],
        "change_sync_s": statistics.median(changed),
        "unchanged_sync_s": statistics.median(unchanged),
    }


def query_latencies(base: str, unit: str | None, ref: str) -> dict[str, tuple[float, int]]:
    """p50 milliseconds and result size of typical queries; ``unit`` scopes the list to one
    unit on a hub."""
    unit_filter = f', filter: {{unit: ["{unit}"]}}' if unit else ""
    queries: dict[str, tuple[str, Callable[[dict[str, Any]], int]]] = {
        "entity by ref, owner and system": (
            f'{{ component(ref: "{ref}") {{ ref title owner {{ ref }} system {{ ref }} }} }}',
            lambda d: 1,
        ),
        "100 components of one unit, owners": (
            (
                f"{{ components(first: 100{unit_filter}) {{ totalCount "
                "edges { node { ref name owner { ref } } } } }"
            ),
            lambda d: int(d["components"]["totalCount"]),
        ),
        "direct dependents of a hub component": (
            f'{{ component(ref: "{ref}") {{ dependents {{ ref }} }} }}',
            lambda d: len(d["component"]["dependents"]),
        ),
        "blast radius of a hub component": (
            f'{{ blastRadius(ref: "{ref}") {{ total byDepth {{ depth count }} }} }}',
            lambda d: int(d["blastRadius"]["total"]),
        ),
    }
    found = {}
    with httpx.Client(timeout=60) as client:
        for name, (query, size) in queries.items():
            body = {"query": query}
            data = client.post(f"{base}/graphql", json=body).json()["data"]
            p50 = percentile(timed_queries(client, base, body, QUERY_REPEAT), 0.5)
            found[name] = (p50, size(data))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.federation", description=__doc__)
    parser.add_argument("--peers", type=int, default=5)
    parser.add_argument("--components", type=int, default=14_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # Steady state: see the module docstring.
    os.environ["DEVGRAPH_CHANGES_OVERLAP_S"] = "0"
    root = Path(tempfile.mkdtemp(prefix="devgraph-federation-bench-"))
    console.print(f"preparing {args.peers} peers of {args.components} components in {root}")
    admins, counts = [], []
    for index in range(args.peers):
        estate = root / f"estate-{index}"
        generate_estate(estate, components=args.components, seed=index + 1)
        admin, count = asyncio.run(prepare_peer(estate, root / f"peer-{index}", f"unit{index}"))
        admins.append(admin)
        counts.append(count)
    names = asyncio.run(component_names(root / "peer-0"))
    with ExitStack() as stack:
        bases = [stack.enter_context(server(root / f"peer-{i}"))[0] for i in range(args.peers)]
        scratch, sizes = [], []
        for round_ in range(args.repeats):
            console.print(f"merge from scratch, round {round_ + 1}")
            elapsed, total = asyncio.run(scratch_merge(root / f"hub-{round_}", bases))
            scratch.append(elapsed)
            sizes.append(total)
        hub_path = root / f"hub-{args.repeats - 1}"
        console.print("1% change on one peer")
        change = asyncio.run(
            incremental(hub_path, bases[0], admins[0], names, counts[0], args.repeats)
        )
        hub_base, _ = stack.enter_context(server(hub_path))
        hub_component = "auth-service" if "auth-service" in names else names[0]
        single = query_latencies(bases[0], None, f"component:default/{hub_component}")
        hub = query_latencies(hub_base, "unit0", f"component:unit0/{hub_component}")
    result = {
        "peers": args.peers,
        "entities_per_peer": counts,
        "hub_entities": sizes[-1],
        "scratch_merge_s": statistics.median(scratch),
        "scratch_merge_runs_s": scratch,
        **change,
        "query_p50_ms": {"single": single, "hub": hub},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"federation: {args.peers} peers, medians of {args.repeats}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("entities per peer", ", ".join(map(str, counts)))
    table.add_row("hub entities (shared repositories merged)", str(result["hub_entities"]))
    table.add_row("merge from scratch", f"{result['scratch_merge_s']:.1f} s")
    table.add_row(
        f"1% change ({change['changed_entities']} entities)", f"{change['change_sync_s']:.2f} s"
    )
    table.add_row("unchanged peer", f"{change['unchanged_sync_s']:.2f} s")
    for name, (ms, size) in single.items():
        hub_ms, hub_size = hub[name]
        table.add_row(
            f"{name}: single / hub (results)", f"{ms:.1f} / {hub_ms:.1f} ms ({size} / {hub_size})"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
