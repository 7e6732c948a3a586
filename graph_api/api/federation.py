"""GraphQL for federation: ``peers`` (the IDPs this hub merges and how their syncs went),
``provenance`` of federated entities, and ``changes(since:)``, which a hub reads to sync this
instance incrementally.

``changes`` is backed by the audit trail: every write of an entity appends an audit event in
the same transaction, with ids that sort by time. An event's id is taken just before its
transaction waits for the write lock, so a listing re-reads the events of the
``changes_overlap_s`` seconds (a setting, default 300) before ``since``: a slow write that
committed after the hub's last read is still delivered, and what is delivered twice is the
same content, which a hub's hash-and-diff does not write again.
"""

from __future__ import annotations

import base64
import re
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph_api.api.context import RequestContext
from graph_api.api.errors import BadInput
from graph_api.model.federation import PeerKind as PeerKindValue
from graph_api.store import EntityFilter, EntityOrder, EntityRecord, PeerRecord

if TYPE_CHECKING:
    from graph_api.api.types import Entity, PageInfo

Ctx = Info[RequestContext, None]
LazyEntity = Annotated["Entity", strawberry.lazy("graph_api.api.types")]
LazyPageInfo = Annotated["PageInfo", strawberry.lazy("graph_api.api.types")]

# A sync pages through whole catalogs: pages larger than the API's usual cap, still counted
# node by node by the query cost limiter.
MAX_CHANGES_PAGE = 1000
DEFAULT_CHANGES_PAGE = 500
_AUDIT_BATCH = 1000
_SINCE_RE = re.compile(r"^(\d{20})-[0-9a-f]+$")


@strawberry.type(description="One unit's copy of an entity merged with copies from other units.")
class ProvenanceSource:
    peer: str
    unit: str
    original_ref: str = strawberry.field(description="Its ref in that peer.")


@strawberry.type(description="Which peer supplied a field of a merged entity.")
class FieldSource:
    field: str = strawberry.field(description="`metadata.title`, `spec.owner`, ...")
    peer: str


@strawberry.type(description="Where a federated entity comes from.")
class Provenance:
    peer: str = strawberry.field(description="The peer whose copy it is (the winner, if merged).")
    unit: str
    original_ref: str = strawberry.field(description="Its ref in that peer.")
    synced_at: str | None = strawberry.field(description="When the hub wrote this version.")
    sources: list[ProvenanceSource] = strawberry.field(
        description="Every copy merged into it, highest precedence first (one if not merged)."
    )
    fields: list[FieldSource] = strawberry.field(
        description="For a merged entity, the peer each field came from; empty otherwise."
    )


def to_provenance(record: EntityRecord) -> Provenance | None:
    """The provenance of a federated entity; None for the hub's own entities."""
    if not record.provenance:
        return None
    data: dict[str, Any] = orjson.loads(record.provenance)
    copies = data.get("copies") or [data]
    return Provenance(
        peer=data["peer"],
        unit=data["unit"],
        original_ref=data["originalRef"],
        synced_at=data.get("syncedAt"),
        sources=[
            ProvenanceSource(peer=c["peer"], unit=c["unit"], original_ref=c["originalRef"])
            for c in copies
        ],
        fields=[
            FieldSource(field=f, peer=p) for f, p in sorted((data.get("fields") or {}).items())
        ],
    )


@strawberry.enum(name="PeerKind")
class PeerKindChoice(Enum):
    DEVGRAPH = "devgraph"
    BACKSTAGE = "backstage"
    FILE = "file"


@strawberry.enum(
    name="PeerStatus",
    description="OK: current. STALE: the last sync failed, the last good data is kept. HELD: "
    "the peer returned far fewer entities than before; nothing changed until the shrink is "
    "accepted. ERROR: no data was ever taken from it.",
)
class PeerStatusChoice(Enum):
    OK = "OK"
    STALE = "STALE"
    HELD = "HELD"
    ERROR = "ERROR"


@strawberry.type(description="Another IDP whose catalog this hub merges.")
class Peer:
    name: str
    kind: PeerKindChoice
    unit: str = strawberry.field(description="The business unit its entities belong to.")
    url: str
    status: PeerStatusChoice | None = strawberry.field(description="Null before the first sync.")
    last_synced_at: str | None = strawberry.field(
        description="When the hub last wrote this peer's data or status; an unchanged peer's "
        "sync writes nothing."
    )
    entity_count: int = strawberry.field(description="Entities the hub holds of this peer.")
    error: str | None = strawberry.field(description="Why the last sync failed or was held.")
    interval: int = strawberry.field(description="Seconds between background syncs.")
    precedence: int = strawberry.field(description="Higher wins when units' copies merge.")


def to_peer(record: PeerRecord) -> Peer:
    return Peer(
        name=record.name,
        kind=PeerKindChoice(PeerKindValue(record.kind).value),
        unit=record.unit,
        url=record.url,
        status=PeerStatusChoice(record.status) if record.status else None,
        last_synced_at=record.last_synced_at,
        entity_count=record.entity_count,
        error=record.error,
        interval=record.interval,
        precedence=record.precedence,
    )


@strawberry.type(
    description="An entity that changed: its current version, or that it is gone. The scalar "
    "fields are what a hub syncs; `entity` offers everything else."
)
class EntityChange:
    ref: str
    removed: bool
    unit: str | None = strawberry.field(
        description="Its unit, when this instance federates it from a peer."
    )
    peer: str | None = strawberry.field(
        description="The peer this instance took it from; null for its own entities."
    )
    descriptor: JSON | None = strawberry.field(description="As loaded; null when removed.")
    record: strawberry.Private[EntityRecord | None]

    @strawberry.field(description="The entity; null when removed.")
    def entity(self) -> LazyEntity | None:
        from graph_api.api.types import to_entity  # noqa: PLC0415 - types imports this module

        return to_entity(self.record) if self.record is not None else None


def _change(ref: str, record: EntityRecord | None) -> EntityChange:
    if record is None or record.stub:
        return EntityChange(
            ref=ref, removed=True, unit=None, peer=None, descriptor=None, record=None
        )
    peer = orjson.loads(record.provenance)["peer"] if record.provenance else None
    return EntityChange(
        ref=ref,
        removed=False,
        unit=record.unit,
        peer=peer,
        descriptor=record.descriptor,
        record=record,
    )


@strawberry.type
class EntityChangeEdge:
    node: EntityChange
    listing: strawberry.Private[tuple[str | None, str]]

    @strawberry.field
    def cursor(self) -> str:
        since, until = self.listing
        return _page_token(since, until, self.node.ref)


@strawberry.type(description="A page of changes; read every page, then keep `cursor`.")
class EntityChanges:
    nodes: list[EntityChange]
    page_info: LazyPageInfo
    total_count: int = strawberry.field(description="Changes from this page to the last.")
    cursor: str = strawberry.field(
        description="Pass as `since` next time, once every page of this listing was read."
    )
    full: bool = strawberry.field(
        description="True when `since` was null: the pages list every entity, and anything "
        "not listed is gone."
    )
    listing: strawberry.Private[tuple[str | None, str]]

    @strawberry.field
    def edges(self) -> list[EntityChangeEdge]:
        return [EntityChangeEdge(node=node, listing=self.listing) for node in self.nodes]


def _page_token(since: str | None, until: str, last: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([since, until, last])).decode()


def _read_page_token(token: str, since: str | None) -> tuple[str, str]:
    """``(until, last ref)`` of a page cursor issued for the same ``since``."""
    try:
        given, until, last = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise BadInput("after: not a cursor of changes") from exc
    if given != since or not isinstance(until, str) or not isinstance(last, str):
        raise BadInput("after: a cursor of a changes listing with another `since`")
    return until, last


def _lower_bound(since: str, overlap_s: int) -> str:
    """The audit id from which a listing since ``since`` reads, ``overlap_s`` earlier."""
    if since == "":
        return ""
    match = _SINCE_RE.match(since)
    if match is None:
        raise BadInput("since: not a cursor from changes")
    start = max(int(match.group(1)) - overlap_s * 10**9, 0)
    return f"{start:020d}{since[20:]}"


async def _changed_refs(info: Ctx, since: str, until: str) -> list[str]:
    """Refs that audit events after ``since`` (less the overlap) and up to ``until`` touch."""
    store = info.context.store
    after = _lower_bound(since, info.context.changes_overlap_s)
    refs: set[str] = set()
    while True:
        events = await store.audit_since(after, _AUDIT_BATCH)
        for event in events:
            if event.id > until:
                return sorted(refs)
            refs.update(change.ref for change in event.changes)
        if len(events) < _AUDIT_BATCH:
            return sorted(refs)
        after = events[-1].id


@strawberry.type
class FederationQuery:
    @strawberry.field(description="The IDPs this hub federates, and how their last sync went.")
    async def peers(self, info: Ctx) -> list[Peer]:
        return [to_peer(p) for p in await info.context.store.get_peers()]

    @strawberry.field(
        description="What changed since `since` (a `cursor` of an earlier listing), for hubs "
        "that federate this instance; with `since` null, every entity. Entities come with "
        "`unit` and `provenance`, so a hub can leave out what this instance federates itself. "
        f"`first` is at most {MAX_CHANGES_PAGE}."
    )
    async def changes(
        self,
        info: Ctx,
        since: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> EntityChanges:
        from graph_api.api.types import PageInfo  # noqa: PLC0415 - types imports this module

        limit = DEFAULT_CHANGES_PAGE if first is None else first
        if not 1 <= limit <= MAX_CHANGES_PAGE:
            raise BadInput(f"first must be between 1 and {MAX_CHANGES_PAGE}")
        store = info.context.store
        if after is not None:
            until, last = _read_page_token(after, since)
        else:
            newest, _ = await store.audit_events(actor=None, ref=None, offset=0, limit=1)
            until, last = (newest[0].id if newest else ""), ""
        if since is None:
            records, remaining = await store.find_entities(
                EntityFilter(ref_after=last or None), EntityOrder.REF, False, 0, limit
            )
            changes = [_change(r.ref, r) for r in records]
        else:
            pending = [ref for ref in await _changed_refs(info, since, until) if ref > last]
            remaining = len(pending)
            page = pending[:limit]
            found = await store.get_entities(page)
            changes = [_change(ref, r) for ref, r in zip(page, found, strict=True)]
        return EntityChanges(
            nodes=changes,
            page_info=PageInfo(
                has_next_page=remaining > len(changes),
                has_previous_page=bool(last),
                start_cursor=_page_token(since, until, changes[0].ref) if changes else None,
                end_cursor=_page_token(since, until, changes[-1].ref) if changes else None,
            ),
            total_count=remaining,
            cursor=until,
            full=since is None,
            listing=(since, until),
        )
