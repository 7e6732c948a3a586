"""The one port between devgraph and a graph store.

Resolvers, loaders and federation speak only this interface; the embedded (Ladybug) and Neo4j
stores implement it, each with its own Cypher, and pass the same contract test suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import orjson

from graph_api.model import Entity, RelationType


@dataclass(slots=True)
class EntityRecord:
    """An entity as stored. ``stub`` marks a ref that relations point at but no source defined."""

    ref: str
    kind: str
    namespace: str
    name: str
    title: str | None = None
    description: str | None = None
    type: str | None = None
    lifecycle: str | None = None
    owner: str | None = None
    system: str | None = None
    domain: str | None = None
    tags: list[str] = field(default_factory=list)
    descriptor_json: str = "{}"
    source: str | None = None
    location: str | None = None
    hash: str | None = None
    stub: bool = False
    updated_at: str | None = None
    _descriptor: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def descriptor(self) -> dict[str, Any]:
        """The descriptor as loaded, parsed on first use: most reads never need it."""
        if self._descriptor is None:
            self._descriptor = orjson.loads(self.descriptor_json)
        return self._descriptor


class Direction(str, Enum):
    """Which way to follow a stored edge: OUT is the relation's own name, IN its inverse."""

    OUT = "OUT"
    IN = "IN"
    BOTH = "BOTH"


class EntityOrder(str, Enum):
    REF = "REF"
    NAME = "NAME"
    KIND = "KIND"
    UPDATED_AT = "UPDATED_AT"


@dataclass(slots=True)
class EntityFilter:
    """Conjunction of optional criteria; list fields match any of their values.

    Refs (owner, system, domain) are canonical; kinds, types and lifecycles match
    case-insensitively; ``annotation`` is ``key`` (present) or ``key=value``.
    """

    kinds: list[str] | None = None
    types: list[str] | None = None
    lifecycles: list[str] | None = None
    namespaces: list[str] | None = None
    owner: str | None = None
    system: str | None = None
    domain: str | None = None
    tag: str | None = None
    annotation: str | None = None
    text: str | None = None
    refs: list[str] | None = None


@dataclass(slots=True)
class PlacedEntity:
    """An entity to write, with the place it came from (``file:line``, a URL, ``api``)."""

    entity: Entity
    location: str


@dataclass(slots=True)
class EntityChange:
    """One entity's before and after content hash (None where it did not / no longer exists)."""

    ref: str
    before: str | None
    after: str | None


@dataclass(slots=True)
class AuditEvent:
    """Who changed what, when: appended in the same transaction as the change itself."""

    id: str
    at: str
    actor: str
    action: str
    source: str
    changes: list[EntityChange] = field(default_factory=list)


@dataclass(slots=True)
class ApiToken:
    """An API token as stored: only the hash of its secret is ever kept."""

    id: str
    name: str
    team: str | None
    role: str
    hash: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None


@dataclass(slots=True)
class ChangeSet:
    """What one source changes: written in a single all-or-nothing transaction."""

    source: str
    upserts: list[PlacedEntity] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    audit: AuditEvent | None = None

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.deletes


@dataclass(slots=True)
class Claim:
    """Which source currently defines a ref, and where."""

    source: str
    location: str | None
    hash: str | None


@dataclass(frozen=True, slots=True)
class Reached:
    """An entity reached in a traversal: its ref, fewest hops from the root, and its owner."""

    ref: str
    depth: int
    owner: str | None


class StoreError(RuntimeError):
    """A store failure that callers may report to users (never carries query text)."""


@runtime_checkable
class GraphStore(Protocol):
    """Everything devgraph asks of a graph store."""

    name: str

    async def open(self) -> None:
        """Connect and create the schema (idempotent)."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers a trivial query."""

    # -- writes ---------------------------------------------------------------------------
    async def apply(self, change: ChangeSet) -> None:
        """Write one source's change atomically: all of it, or nothing on any failure."""

    async def source_claims(self, source: str) -> dict[str, Claim]:
        """Every entity ``source`` defines, with its hash and location."""

    async def claims(self, refs: Sequence[str]) -> dict[str, Claim]:
        """Which source defines each of ``refs`` (refs only stubbed or absent are left out)."""

    # -- reads ----------------------------------------------------------------------------
    async def get_entities(self, refs: Sequence[str]) -> list[EntityRecord | None]:
        """Entities by canonical ref, in the order asked; ``None`` where absent."""

    async def find_entities(
        self,
        where: EntityFilter,
        order: EntityOrder,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[EntityRecord], int]:
        """A page of defined (non-stub) entities and the total count matching ``where``."""

    async def related(
        self, refs: Sequence[str], relation: RelationType, direction: Direction
    ) -> dict[str, list[str]]:
        """For each ref, the refs one ``relation`` edge away (sorted), in one round trip."""

    async def unresolved_refs(self) -> list[tuple[str, str, str]]:
        """``(from ref, relation, missing ref)`` for every relation to an undefined entity."""

    async def reachable(
        self, root: str, relation: RelationType, direction: Direction, max_depth: int
    ) -> list[Reached]:
        """Entities reachable from ``root`` along ``relation``, by depth then ref (root excluded)."""

    async def edges_among(
        self, refs: Sequence[str], relation: RelationType
    ) -> list[tuple[str, str]]:
        """Distinct ``relation`` edges whose both ends are in ``refs``."""

    async def shortest_path(
        self, start: str, end: str, relation: RelationType, direction: Direction, max_depth: int
    ) -> list[str] | None:
        """Refs along one shortest path from ``start`` to ``end`` (both included), or None."""

    async def all_edges(
        self, relation: RelationType, scope: Sequence[str] | None = None
    ) -> list[tuple[str, str]]:
        """Every distinct ``relation`` edge, or those with both ends in ``scope``."""

    async def stats(self) -> dict[str, int]:
        """Counts of defined entities per kind."""

    # -- security -------------------------------------------------------------------------
    async def audit_events(
        self, *, actor: str | None, ref: str | None, offset: int, limit: int
    ) -> tuple[list[AuditEvent], int]:
        """Audit events, newest first, optionally by actor or touching one ref; and the total."""

    async def put_token(self, token: ApiToken) -> None:
        """Store a new API token (its hash, never its secret)."""

    async def token_by_hash(self, digest: str) -> ApiToken | None: ...

    async def list_tokens(self) -> list[ApiToken]: ...

    async def revoke_token(self, token_id: str, at: str) -> bool:
        """Mark a token revoked; False when no such token exists or it was already revoked."""
