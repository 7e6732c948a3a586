"""Syncing a peer into the hub: read it, check it, merge it, write one change set.

A sync never writes a partial read: a peer that is down, slow or answers garbage keeps its
last good data, marked STALE with the error. A peer that suddenly returns far fewer
entities than the hub holds of it (under ``shrink_ratio``, default half) is HELD: nothing is
written until a sync with ``accept_shrink``. Everything a sync changes (the peer's entities,
the entities of other peers whose refs now resolve elsewhere, and what the hub records of the
peer) is one :class:`~graph_api.store.ChangeSet`, written all or nothing; a peer whose read
changed nothing costs no write at all.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx
import orjson

from federation._fetched import DEFAULT_TIMEOUT_S, Fetched, PeerUnavailable
from federation.backstage_peer import read_backstage
from federation.devgraph_peer import read_devgraph
from federation.file_peer import read_file
from federation.merge import (
    Copy,
    CopyKey,
    Held,
    Merged,
    World,
    copies_from_provenance,
    identity_keys,
    key_index,
    merge,
    outside_refs,
)
from federation.naming import peer_ref
from graph_api.ingest import Rejection, audit_event
from graph_api.model import DescriptorError, RelationType, parse_entity
from graph_api.model.federation import PEER_SOURCE_PREFIX, PeerKind, PeerStatus, peer_source
from graph_api.store import (
    ChangeSet,
    Direction,
    EntityChange,
    EntityRecord,
    GraphStore,
    PeerRecord,
    PlacedEntity,
)
from graph_api.store._records import now_iso
from loaders import collector_paused

SHRINK_RATIO = 0.5
# Syncs of one store run one at a time: each merges against what the previous one wrote.
_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


class UnknownPeer(LookupError):
    """No peer of that name is configured."""


@dataclass(slots=True)
class SyncReport:
    """What syncing one peer did. Refs are hub refs; ``restitched`` are entities of other
    peers written again because their refs now resolve elsewhere."""

    peer: str
    status: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restitched: list[str] = field(default_factory=list)
    unchanged: int = 0
    entity_count: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == PeerStatus.OK.value

    def summary(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "status": self.status,
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "restitched": len(self.restitched),
            "unchanged": self.unchanged,
            "entity_count": self.entity_count,
            "rejected": [asdict(r) for r in self.rejected],
            "ambiguous": list(self.ambiguous),
            "conflicts": list(self.conflicts),
            "error": self.error,
        }


@dataclass(slots=True)
class ReadOptions:
    """How peers are read.

    ``full``: ask a devgraph peer for everything, not only what changed since the last sync.
    ``client``: the HTTP client to read with (tests pass one); a new one otherwise.
    ``page_size``: entities per page asked of a peer. ``timeout``: seconds a peer may take
    to answer one request.
    """

    full: bool = False
    client: httpx.AsyncClient | None = None
    page_size: int | None = None
    timeout: float = DEFAULT_TIMEOUT_S


async def sync_peers(
    store: GraphStore,
    names: Sequence[str] = (),
    *,
    accept_shrink: bool = False,
    shrink_ratio: float = SHRINK_RATIO,
    actor: str = "federation",
    **read: Any,
) -> list[SyncReport]:
    """Sync the named peers (every peer when none is named). All are read and parsed at
    once, each being its own server; each is merged as soon as it is ready, one at a time.

    Takes :func:`sync_peer`'s options; reports come in the order of ``names`` (or by name).

    Raises:
        UnknownPeer: a name that is not a configured peer (before anything is read).
    """
    options = ReadOptions(**read)
    # A sync builds a Copy and a Held for every entity of every peer; the cyclic collector
    # walking them over and over took a fifth of a 5 x 20k merge (42 -> 35 s without it).
    async with _locks.setdefault(store, asyncio.Lock()):
        with collector_paused():
            return await _sync_round(store, names, options, accept_shrink, shrink_ratio, actor)


async def _sync_round(
    store: GraphStore,
    names: Sequence[str],
    options: ReadOptions,
    accept_shrink: bool,
    shrink_ratio: float,
    actor: str,
) -> list[SyncReport]:
    """Read the peers at once; merge each as soon as it is read (the caller holds the lock)."""
    hub = await _hub(store)
    unknown = [n for n in names if n not in hub.peers]
    if unknown:
        raise UnknownPeer(f"no peer named {', '.join(unknown)}; see `devgraph peers list`")
    wanted = list(names or hub.peers)
    reading = {asyncio.ensure_future(_read(hub, n, options)): n for n in wanted}
    reports: dict[str, SyncReport] = {}
    pending = set(reading)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: reading[t]):
                name = reading[task]
                reports[name] = await _sync(
                    store, hub, name, task.result(), accept_shrink, shrink_ratio, actor
                )
    finally:
        # A failed write stops the round: reads still running are of no use.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return [reports[name] for name in wanted]


async def sync_peer(
    store: GraphStore,
    name: str,
    *,
    accept_shrink: bool = False,
    shrink_ratio: float = SHRINK_RATIO,
    actor: str = "federation",
    **read: Any,
) -> SyncReport:
    """Read peer ``name`` and merge what changed into the hub.

    Args:
        store: the hub's store.
        name: a configured peer.
        accept_shrink: write even when the peer returns fewer than ``shrink_ratio`` of the
            entities the hub holds of it.
        actor: who asked, for the audit trail.
        read: :class:`ReadOptions` (``full``, ``client``, ``page_size``, ``timeout``).

    Example:
        >>> report = await sync_peer(store, "payments")  # doctest: +SKIP
    """
    options = ReadOptions(**read)
    async with _locks.setdefault(store, asyncio.Lock()):
        with collector_paused():  # see sync_peers
            hub = await _hub(store)
            if name not in hub.peers:
                raise UnknownPeer(f"no peer named {name}")
            taken = await _read(hub, name, options)
            return await _sync(store, hub, name, taken, accept_shrink, shrink_ratio, actor)


async def remove_peer(store: GraphStore, name: str, *, actor: str = "federation") -> SyncReport:
    """Forget a peer: its entities leave the hub (refs into them resolve again) and its
    config goes.

    Raises:
        UnknownPeer: no such peer.
    """
    async with _locks.setdefault(store, asyncio.Lock()):
        hub = await _hub(store)
        if name not in hub.peers:
            raise UnknownPeer(f"no peer named {name}")
        report = SyncReport(peer=name, status=PeerStatus.OK.value)
        removed = list(hub.held[name])
        await _merge_and_write(store, hub, name, {}, {}, removed, {}, report, actor)
        await store.delete_peer(name)
        return report


@dataclass(slots=True)
class _Hub:
    """What the hub holds of every peer, read once per sync and kept current as each peer's
    change is written (a peer's sync changes only that peer's part)."""

    peers: dict[str, PeerRecord]
    cursors: dict[str, str | None]
    held: dict[str, dict[str, Held]]
    keys: dict[str, dict[str, list[str]]]


async def _hub(store: GraphStore) -> _Hub:
    """Every peer, its change cursor and what the hub holds of it (its recorded state)."""
    peers = {p.name: p for p in await store.get_peers()}
    states = await store.source_states([peer_source(n) for n in peers])
    hub = _Hub(peers, {}, {}, {})
    for name in peers:
        state = states.get(peer_source(name)) or {}
        hub.cursors[name] = state.get("cursor")
        hub.held[name] = {ref: Held(*v) for ref, v in (state.get("entities") or {}).items()}
        hub.keys[name] = key_index(hub.held[name])
    return hub


@dataclass(slots=True)
class _Taken:
    """One peer's read, parsed: what the hub will hold of it and the copies that changed;
    ``fetched`` is None when the read failed (``report.error`` says why)."""

    report: SyncReport
    fetched: Fetched | None
    new: dict[str, Held]
    changed: dict[str, Copy]


async def _read(hub: _Hub, name: str, options: ReadOptions) -> _Taken:
    peer = hub.peers[name]
    report = SyncReport(peer=name, status=PeerStatus.OK.value)
    cursor = None if options.full else hub.cursors[name]
    try:
        fetched = await _fetch(peer, cursor, options.client, options.page_size, options.timeout)
    except PeerUnavailable as exc:
        report.error = str(exc)
        return _Taken(report, None, {}, {})
    # Parsing is CPU work: off the event loop, which keeps reading the other peers. It reads
    # only this peer's part of the hub, which no other peer's sync changes.
    new, changed = await asyncio.to_thread(_take, peer, hub.held[name], fetched, report)
    return _Taken(report, fetched, new, changed)


async def _sync(
    store: GraphStore,
    hub: _Hub,
    name: str,
    taken: _Taken,
    accept_shrink: bool,
    shrink_ratio: float,
    actor: str,
) -> SyncReport:
    """Merge one peer's read into the hub (the caller holds the store's sync lock)."""
    peer, report, fetched = hub.peers[name], taken.report, taken.fetched
    if fetched is None:
        return await _failed(store, peer, report.error or "", report)
    old, new, changed = hub.held[name], taken.new, taken.changed
    report.entity_count = len(new)
    if old and len(new) < shrink_ratio * len(old) and not accept_shrink:
        return await _held_back(store, peer, len(old), len(new), report)
    removed = [ref for ref in old if ref not in new]
    if changed or removed or fetched.cursor != hub.cursors[name]:
        state = {"cursor": fetched.cursor}
        await _merge_and_write(store, hub, name, new, changed, removed, state, report, actor)
    await _record_status(store, peer, report, wrote=bool(changed or removed))
    return report


def _token(peer: PeerRecord) -> str | None:
    if not peer.token_env:
        return None
    token = os.environ.get(peer.token_env)
    if not token:
        raise PeerUnavailable(f"${peer.token_env} (the token for peer {peer.name}) is not set")
    return token


async def _fetch(
    peer: PeerRecord,
    cursor: str | None,
    client: httpx.AsyncClient | None,
    page_size: int | None,
    timeout: float,
) -> Fetched:
    kind = PeerKind(peer.kind)
    if kind is PeerKind.FILE:
        return await asyncio.to_thread(read_file, peer.url)
    token = _token(peer)
    paging = {"page_size": page_size} if page_size else {}
    async with _client(client, timeout) as http:
        if kind is PeerKind.DEVGRAPH:
            return await read_devgraph(http, peer.url, token, cursor, **paging)
        return await read_backstage(http, peer.url, token, **paging)


class _client:
    """The caller's client as is, or a new one closed afterwards."""

    def __init__(self, given: httpx.AsyncClient | None, timeout: float) -> None:
        self.given = given
        self.own: httpx.AsyncClient | None = None
        self.timeout = timeout

    async def __aenter__(self) -> httpx.AsyncClient:
        if self.given is not None:
            return self.given
        self.own = httpx.AsyncClient(timeout=self.timeout)
        return self.own

    async def __aexit__(self, *exc: object) -> None:
        if self.own is not None:
            await self.own.aclose()


def _take(
    peer: PeerRecord, old: dict[str, Held], fetched: Fetched, report: SyncReport
) -> tuple[dict[str, Held], dict[str, Copy]]:
    """What the hub will hold of the peer after this read, and the copies that changed."""
    report.rejected.extend(fetched.rejected)
    new = {} if fetched.full else dict(old)
    for ref in fetched.removed:
        new.pop(ref, None)
    changed: dict[str, Copy] = {}
    for raw in fetched.entities:
        before = old.get(raw.ref)
        if before is not None and before.digest == raw.digest:
            new[raw.ref] = before
            report.unchanged += 1
            continue
        try:
            entity = parse_entity(raw.document)
        except DescriptorError as exc:
            report.rejected.append(Rejection(f"{peer.url}#{raw.ref}", str(exc), raw.ref))
            continue
        new[raw.ref] = Held(raw.digest, identity_keys(entity), [])
        changed[raw.ref] = Copy(peer, entity)
    # A document that could not be read keeps the version the hub already holds.
    for rejection in report.rejected:
        if rejection.ref in old and rejection.ref not in changed:
            new[rejection.ref] = old[rejection.ref]
    return new, changed


async def _merge_and_write(
    store: GraphStore,
    hub: _Hub,
    name: str,
    new: dict[str, Held],
    changed: dict[str, Copy],
    removed: list[str],
    state: dict[str, Any],
    report: SyncReport,
    actor: str,
) -> None:
    """Merge the peer's change with everything it touches, write it as one change set, and
    keep ``hub`` current."""
    before = World(hub.peers, hub.held, hub.keys, set())
    after = World(hub.peers, {**hub.held, name: new}, {**hub.keys, name: key_index(new)}, set())
    affected = _affected(before, after, [(name, ref) for ref in [*changed, *removed]])
    final_before = {c: before.final_ref(c) for c in affected if before.groups.exists(c)}
    final_after = {c: after.final_ref(c) for c in affected if after.groups.exists(c)}
    moved = {ref for c, ref in final_before.items() if final_after.get(c) != ref}
    gone = set(final_before.values()) - set(final_after.values())
    redo = set(final_after) | _pointing_outside(after, name, {r for _, r in affected})
    redo |= await _pointing_at(store, after, moved)
    groups = {after.final_ref(c): after.groups.members(c) for c in redo}
    needed = {m for members in groups.values() for m in members} - {(name, r) for r in changed}
    places = {before.final_ref(m) for m in needed if before.groups.exists(m)}
    found = await store.get_entities(sorted(places | set(groups) | gone))
    stored = {r.ref: r for r in found if r is not None}
    copies = await asyncio.to_thread(_stored_copies, stored.values(), hub.peers)
    copies.update(((name, ref), copy) for ref, copy in changed.items())
    after.local.update(await _local_refs(store, after, groups, copies))
    merged = await asyncio.to_thread(_merged, after, groups, copies, stored, name, report)
    upserts, changes = merged.upserts, merged.changes
    for ref, outside in merged.outside.items():
        new[ref] = new[ref]._replace(outside=outside)
    for ref in merged.refused:
        new.pop(ref, None)
    deletes = sorted(
        ref
        for ref in gone
        if ref in stored and not stored[ref].stub and not _claimed_by_hub(stored[ref])
    )
    changes.extend(EntityChange(ref, stored[ref].hash, None) for ref in deletes)
    report.removed = deletes
    report.entity_count = len(new)
    state["entities"] = {ref: list(entry) for ref, entry in new.items()}
    audit = audit_event(actor, "federate", peer_source(name), changes) if changes else None
    await store.apply(
        ChangeSet(peer_source(name), upserts=upserts, deletes=deletes, state=state, audit=audit)
    )
    # A copy refused for a conflict left ``new``: the index is rebuilt to match it.
    hub.held[name], hub.keys[name], hub.cursors[name] = new, key_index(new), state.get("cursor")


def _stored_copies(
    records: Iterable[EntityRecord], peers: dict[str, PeerRecord]
) -> dict[CopyKey, Copy]:
    """The peers' copies that stored federated entities were made of."""
    copies: dict[CopyKey, Copy] = {}
    for record in records:
        if record.provenance and record.source and record.source.startswith(PEER_SOURCE_PREFIX):
            provenance = orjson.loads(record.provenance)
            copies.update(copies_from_provenance(provenance, record.descriptor, peers))
    return copies


@dataclass(slots=True)
class _Merge:
    """What merging a sync's groups gave: the entities to write and their audit changes; for
    the syncing peer's copies, the refs that leave their unit and the copies refused."""

    upserts: list[PlacedEntity] = field(default_factory=list)
    changes: list[EntityChange] = field(default_factory=list)
    outside: dict[str, list[str]] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)


def _merged(
    world: World,
    groups: dict[str, tuple[CopyKey, ...]],
    copies: dict[CopyKey, Copy],
    stored: dict[str, EntityRecord],
    name: str,
    report: SyncReport,
) -> _Merge:
    """The final entities of ``groups`` that differ from what is stored, and their changes."""
    stamp = now_iso()
    result = _Merge()
    for final, members in sorted(groups.items()):
        present = [copies[m] for m in members if m in copies]
        if len(present) != len(members):
            report.conflicts.append(
                f"{final}: the data of {len(members) - len(present)} of its copies is missing; "
                f"a full sync of their peers brings it back"
            )
            continue
        merged = merge(present, world)
        old = stored.get(final)
        if old is not None and _claimed_by_hub(old):
            # Not held, so it is offered again at the peer's next full read.
            report.conflicts.append(
                f"{final}: already defined by source {old.source} at {old.location}; "
                f"the copy of peer {merged.winner.peer.name} is not merged"
            )
            result.refused.update(ref for peer, ref in members if peer == name)
            continue
        own = world.held[name]
        result.outside.update(
            (c.entity.ref, outside_refs(c, own)) for c in present if c.peer.name == name
        )
        report.ambiguous.extend(
            f"{where}: {ref} matches {', '.join(candidates)}; left unresolved"
            for where, ref, candidates in merged.ambiguous
        )
        previous = old.hash if old is not None and not old.stub else None
        if previous == merged.entity.hash:
            continue
        result.upserts.append(_placed(merged, stamp))
        result.changes.append(EntityChange(final, previous, merged.entity.hash))
        if merged.winner.peer.name != name:
            report.restitched.append(final)
        else:
            (report.updated if previous else report.added).append(final)
    return result


def _affected(before: World, after: World, seeds: list[CopyKey]) -> set[CopyKey]:
    """The seeds and every copy merged with one of them, before or after, transitively."""
    affected: set[CopyKey] = set()
    pending = list(seeds)
    while pending:
        copy = pending.pop()
        if copy in affected:
            continue
        affected.add(copy)
        for world in (before, after):
            if world.groups.exists(copy):
                pending.extend(world.groups.members(copy))
    return affected


def _pointing_outside(world: World, name: str, refs: set[str]) -> set[CopyKey]:
    """Copies whose refs leave their unit for one of ``refs`` (whose owners just changed), and
    every copy of peer ``name`` that points outside its unit (the hub's own entities they may
    resolve to are re-checked at each of its syncs)."""
    found: set[CopyKey] = set()
    for peer, entries in world.held.items():
        for ref, entry in entries.items():
            if entry.outside and (peer == name or not refs.isdisjoint(entry.outside)):
                found.add((peer, ref))
    return found


async def _pointing_at(store: GraphStore, world: World, refs: set[str]) -> set[CopyKey]:
    """The copies whose entities have an edge to one of ``refs`` (entities that moved or
    went): their refs resolve again."""
    if not refs:
        return set()
    units = {p.unit: p.name for p in world.peers.values()}
    found: set[CopyKey] = set()
    for relation in RelationType:
        neighbours = await store.related(sorted(refs), relation, Direction.BOTH)
        for hub in {n for targets in neighbours.values() for n in targets}:
            unit, ref = peer_ref(hub)
            copy = (units[unit], ref) if unit in units else None
            if copy is not None and world.groups.exists(copy):
                found.add(copy)
    return found


async def _local_refs(
    store: GraphStore,
    world: World,
    groups: dict[str, tuple[CopyKey, ...]],
    copies: dict[CopyKey, Copy],
) -> set[str]:
    """Refs the hub's own sources define among those the copies point at outside their unit."""
    wanted: set[str] = set()
    for members in groups.values():
        for member in members:
            copy = copies.get(member)
            if copy is not None:
                wanted.update(outside_refs(copy, world.held[member[0]]))
    claims = await store.claims(sorted(wanted))
    return {ref for ref, claim in claims.items() if not claim.source.startswith(PEER_SOURCE_PREFIX)}


def _claimed_by_hub(record: EntityRecord | None) -> bool:
    """Defined by one of the hub's own sources, which federation never overwrites."""
    return (
        record is not None
        and not record.stub
        and not (record.source or "").startswith(PEER_SOURCE_PREFIX)
    )


def _placed(merged: Merged, stamp: str) -> PlacedEntity:
    winner = merged.winner
    return PlacedEntity(
        merged.entity,
        f"{winner.peer.url}#{winner.entity.ref}",
        source=peer_source(winner.peer.name),
        unit=merged.unit,
        provenance={**merged.provenance, "syncedAt": stamp},
    )


async def _failed(
    store: GraphStore, peer: PeerRecord, error: str, report: SyncReport
) -> SyncReport:
    """Keep the last good data; STALE if there is some, ERROR if there never was."""
    had_data = peer.last_synced_at is not None
    report.status = (PeerStatus.STALE if had_data else PeerStatus.ERROR).value
    report.error = error
    report.entity_count = peer.entity_count
    await store.put_peer(replace(peer, status=report.status, error=error))
    return report


async def _held_back(
    store: GraphStore, peer: PeerRecord, before: int, now: int, report: SyncReport
) -> SyncReport:
    report.status = PeerStatus.HELD.value
    report.error = (
        f"the peer returned {now} entities where the hub holds {before}; nothing was changed. "
        f"If that is right: devgraph federate sync {peer.name} --accept-shrink"
    )
    report.entity_count = before
    report.added = report.updated = []
    await store.put_peer(replace(peer, status=report.status, error=report.error))
    return report


async def _record_status(
    store: GraphStore, peer: PeerRecord, report: SyncReport, *, wrote: bool
) -> None:
    """Record a good sync; an unchanged peer that was already OK costs no write."""
    current = replace(
        peer, status=PeerStatus.OK.value, error=None, entity_count=report.entity_count
    )
    if wrote or current != peer:
        await store.put_peer(replace(current, last_synced_at=now_iso()))
