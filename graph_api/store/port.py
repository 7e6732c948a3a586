"""The one port between devgraph and a graph store.

Resolvers, loaders and federation speak only this interface; the embedded (Ladybug) and Neo4j
stores implement it, each with its own Cypher, and pass the same contract test suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from graph_api.model import Entity, RelationType
from graph_api.model.cost import CostDimension, CostMetric

if TYPE_CHECKING:
    import pyarrow as pa


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
    # Federated entities: the business unit they belong to, and their provenance (JSON text:
    # peer, original ref, synced at; the merged copies and field sources of a merged entity).
    unit: str | None = None
    provenance: str | None = None
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


class ReachGroup(str, Enum):
    """What :meth:`GraphStore.reach_counts` counts reached entities by."""

    DEPTH = "DEPTH"
    OWNER = "OWNER"


class EntityOrder(str, Enum):
    REF = "REF"
    NAME = "NAME"
    KIND = "KIND"
    UPDATED_AT = "UPDATED_AT"


@dataclass(slots=True)
class EntityFilter:
    """Conjunction of optional criteria; list fields match any of their values.

    Refs (owner, system, domain) are canonical; kinds, types and lifecycles match
    case-insensitively; ``annotation`` is ``key`` (present) or ``key=value``; ``unowned``
    keeps entities without an owner.
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
    unowned: bool = False
    units: list[str] | None = None
    # Keyset paging: only refs after this one (ordered by ref), stable while entities change.
    ref_after: str | None = None


@dataclass(slots=True)
class PlacedEntity:
    """An entity to write, with the place it came from (``file:line``, a URL, ``api``).

    ``source`` overrides the change's own source key for this entity: a federation sync writes
    the entities of other peers it re-resolves in the same transaction. ``unit`` and
    ``provenance`` are set on federated entities only.
    """

    entity: Entity
    location: str
    source: str | None = None
    unit: str | None = None
    provenance: dict[str, Any] | None = None


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
class PeerRecord:
    """Another IDP this hub federates, and how its last sync went.

    ``token_env`` names the environment variable holding the peer's token (never the token);
    ``status`` is None until the first sync, then OK, STALE, HELD or ERROR.
    """

    name: str
    kind: str
    url: str
    unit: str
    token_env: str | None = None
    interval: int = 300
    precedence: int = 0
    status: str | None = None
    error: str | None = None
    last_synced_at: str | None = None
    entity_count: int = 0


@dataclass(slots=True)
class PackageRecord:
    """A package at one version (any version when ``version`` is None), keyed by its purl.

    Packages are shared by every source that uses them; later facts about a package
    (licenses, vulnerabilities) attach to this node.
    """

    purl: str
    ecosystem: str
    name: str
    version: str | None = None


@dataclass(slots=True)
class PackageUse:
    """An entity's use of a package, as one manifest of the entity's source states it."""

    ref: str
    package: PackageRecord
    requirement: str | None
    scope: str
    manifest: str
    source: str = ""


@dataclass(slots=True)
class DocumentRecord:
    """A document a source holds (README, TechDocs page, runbook, ADR), with its text."""

    id: str
    source: str
    kind: str
    path: str
    title: str
    url: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CodeOwnership:
    """The code owners of an entity: the CODEOWNERS rule that matched its descriptor's folder."""

    ref: str
    owners: list[str]
    file: str
    line: int
    pattern: str
    source: str = ""


@dataclass(slots=True)
class Activity:
    """A repository's recent history: its head and the commits of the 90 days before loading.

    ``commits`` holds ``(unix time, author key)`` pairs, so counts for any later "last 90
    days" window are exact without reading the repository again.
    """

    source: str
    repository: str
    branch: str
    head: str
    last_commit_at: str | None
    commits: list[tuple[int, str]] = field(default_factory=list)


@dataclass(slots=True)
class CostSet:
    """The cost one source gives (a FOCUS file, an OpenCost window): it replaces, whole, what
    that source gave before.

    ``facts`` is an Arrow table in :data:`graph_api.model.cost.COST_FACT_SCHEMA`;
    ``hash`` is :func:`graph_api.model.cost.facts_hash` of it; ``lines`` counts input lines.
    """

    facts: pa.Table
    hash: str
    lines: int


@dataclass(slots=True)
class CostSourceRecord:
    """What a cost source last gave, as stored beside its facts."""

    source: str
    hash: str
    lines: int
    facts: int
    first_day: date | None
    last_day: date | None
    loaded_at: str


@dataclass(slots=True)
class CostFilter:
    """Facts with ``start <= day <= end``; ``entities``/``resources`` match any of their refs;
    ``allocated`` True keeps attributed facts only, False unallocated ones only."""

    start: date
    end: date
    entities: list[str] | None = None
    resources: list[str] | None = None
    allocated: bool | None = None


@dataclass(slots=True)
class CostAmount:
    """One group of a cost query: its key values (in the order asked), currency and sum."""

    key: tuple[Any, ...]
    currency: str
    amount: Decimal


@dataclass(slots=True)
class FindingRecord:
    """One finding as stored (see :mod:`graph_api.model.findings`); times are UTC ISO 8601.

    ``package`` is the purl a VULNERABILITY or LICENSE finding is about; ``advisory`` the
    vulnerability id (OSV, GHSA, CVE) of a VULNERABILITY finding.
    """

    id: str
    source: str
    entity: str
    kind: str
    tool: str
    rule: str
    fingerprint: str
    severity: str
    status: str
    message: str
    first_seen: str
    last_seen: str
    resolved_at: str | None = None
    rule_name: str | None = None
    file: str | None = None
    line: int | None = None
    package: str | None = None
    advisory: str | None = None
    help_uri: str | None = None


@dataclass(slots=True)
class FindingChanges:
    """The findings a source adds and the ones it changes (a resolved finding is a change):
    the store writes exactly these and recounts the open findings of their entities."""

    created: list[FindingRecord] = field(default_factory=list)
    updated: list[FindingRecord] = field(default_factory=list)


@dataclass(slots=True)
class LicenseStatement:
    """A license as an SBOM wrote it, and its SPDX expression when that is certain."""

    raw: str
    expression: str | None


@dataclass(slots=True)
class PackageDeclaration:
    """What one SBOM says of a package it lists: its licenses and content hashes
    (``ALG:hex``, e.g. ``SHA-256:9f86...``)."""

    purl: str
    licenses: list[LicenseStatement] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    source: str = ""


@dataclass(slots=True)
class VulnerabilityRecord:
    """A known vulnerability affecting one package version, as one source states it."""

    id: str
    purl: str
    aliases: list[str] = field(default_factory=list)
    summary: str | None = None
    severity: str = "MEDIUM"
    score: float | None = None
    fixed: list[str] = field(default_factory=list)
    source: str = ""


@dataclass(slots=True)
class PackageDependency:
    """``purl`` depends on ``depends_on``, as one SBOM states it."""

    purl: str
    depends_on: str
    source: str = ""


@dataclass(slots=True)
class FindingFilter:
    """Conjunction of optional criteria; list fields match any of their values. ``entities``
    holds canonical refs (the API turns a team, system or domain into its entities)."""

    entities: list[str] | None = None
    tools: list[str] | None = None
    severities: list[str] | None = None
    statuses: list[str] | None = None
    kinds: list[str] | None = None


@dataclass(slots=True)
class SourceFacts:
    """What a source states besides entities. A list replaces that kind of fact wholesale for
    the source (an empty list removes them); None leaves what is stored as it is."""

    packages: list[PackageUse] | None = None
    documents: list[DocumentRecord] | None = None
    code_owners: list[CodeOwnership] | None = None
    activity: Activity | None = None
    cost: CostSet | None = None
    # Findings are changed, not replaced: their lifecycle (graph_api.findings) keeps history.
    findings: FindingChanges | None = None
    declarations: list[PackageDeclaration] | None = None
    vulnerabilities: list[VulnerabilityRecord] | None = None
    package_dependencies: list[PackageDependency] | None = None

    @property
    def empty(self) -> bool:
        return (
            self.packages is None
            and self.documents is None
            and self.code_owners is None
            and self.activity is None
            and self.cost is None
            and self.findings is None
            and self.declarations is None
            and self.vulnerabilities is None
            and self.package_dependencies is None
        )


@dataclass(slots=True)
class ChangeSet:
    """What one source changes: written in a single all-or-nothing transaction.

    ``state`` (when set) replaces the source's recorded state, e.g. the commit it was read at,
    in the same transaction, so a crash never records a state whose data is missing.
    """

    source: str
    upserts: list[PlacedEntity] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    audit: AuditEvent | None = None
    facts: SourceFacts = field(default_factory=SourceFacts)
    state: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.deletes and self.facts.empty and self.state is None


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


@dataclass(slots=True)
class PackageFilter:
    """Conjunction of optional criteria on packages.

    ``name`` matches the stored name in any of its normal forms; ``version_range`` (PEP 440
    comparison syntax) keeps pinned versions inside the range.
    """

    name: str | None = None
    ecosystem: str | None = None
    purl: str | None = None
    version_range: str | None = None


@dataclass(slots=True)
class DocumentFilter:
    """``text``: every whitespace-separated word occurs in the title or text (any case)."""

    text: str | None = None
    kinds: list[str] | None = None
    ref: str | None = None


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

    async def reach_counts(
        self,
        root: str,
        relation: RelationType,
        direction: Direction,
        max_depth: int,
        group: ReachGroup,
    ) -> dict[int | str | None, int]:
        """How many of the entities :meth:`reachable` lists have each depth or owner: the
        traversal's summary, counted where the data is (a hub's 100k dependents stay there)."""

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

    # -- source facts ---------------------------------------------------------------------
    async def source_states(self, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The recorded state of each source that has one (see ``ChangeSet.state``)."""

    async def owner_candidates(
        self, names: Sequence[str], slugs: Sequence[str], emails: Sequence[str]
    ) -> list[EntityRecord]:
        """Defined groups and users that code-owner handles may mean: by lower-case name, by
        ``github.com/team-slug`` annotation pair, or whose descriptor mentions an email."""

    async def package_uses(self, refs: Sequence[str]) -> dict[str, list[PackageUse]]:
        """For each entity ref, the packages it uses (sorted by purl)."""

    async def package_users(self, purls: Sequence[str]) -> dict[str, list[PackageUse]]:
        """For each purl, the uses of that package (sorted by entity ref)."""

    async def get_packages(self, purls: Sequence[str]) -> list[PackageRecord | None]:
        """Packages by purl, in the order asked; ``None`` where absent."""

    async def find_packages(
        self, where: PackageFilter, offset: int, limit: int
    ) -> tuple[list[PackageRecord], int]:
        """A page of packages (by ecosystem, name, version, purl) and the total matching."""

    async def documents_of(self, refs: Sequence[str]) -> dict[str, list[DocumentRecord]]:
        """For each entity ref, the documents about it (sorted by path)."""

    async def find_documents(
        self, where: DocumentFilter, offset: int, limit: int
    ) -> tuple[list[DocumentRecord], int]:
        """A page of documents (by source, path) and the total matching ``where``."""

    async def code_owners(self, refs: Sequence[str]) -> dict[str, list[CodeOwnership]]:
        """For each entity ref, its code ownership as each source stated it."""

    async def activities(self, sources: Sequence[str]) -> dict[str, Activity]:
        """The repository activity of each source that has one."""

    # -- cost -----------------------------------------------------------------------------
    async def cost_source(self, source: str) -> CostSourceRecord | None:
        """What ``source`` last gave (its hash, for an unchanged re-load to write nothing)."""

    async def cost_amounts(
        self, where: CostFilter, by: Sequence[CostDimension], metric: CostMetric
    ) -> list[CostAmount]:
        """Sums of ``metric`` over the facts ``where`` selects, per ``by`` values and currency."""

    async def cost_span(self) -> tuple[date, date] | None:
        """The first and last day any cost source covers; None when there is no cost."""

    # -- findings and dependency health ---------------------------------------------------
    async def source_findings(self, source: str) -> list[FindingRecord]:
        """Every finding ``source`` has given, in any status (for the lifecycle diff)."""

    async def findings_of(self, refs: Sequence[str]) -> dict[str, list[FindingRecord]]:
        """For each entity ref, its findings, worst first."""

    async def find_findings(
        self, where: FindingFilter, offset: int, limit: int
    ) -> tuple[list[FindingRecord], int]:
        """A page of findings, worst first (then by entity, rule, file, line), and the total."""

    async def open_finding_counts(self, refs: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each ref with open findings, their count per severity; refs without are left out."""

    async def package_declarations(
        self, purls: Sequence[str]
    ) -> dict[str, list[PackageDeclaration]]:
        """For each purl, what each SBOM declares of it (licenses, hashes), by source."""

    async def package_vulnerabilities(
        self, purls: Sequence[str]
    ) -> dict[str, list[VulnerabilityRecord]]:
        """For each purl, the vulnerabilities every source says affect it, by id then source."""

    async def package_dependencies(
        self, purls: Sequence[str]
    ) -> dict[str, list[PackageDependency]]:
        """For each purl, the packages SBOMs say it depends on."""

    # -- security -------------------------------------------------------------------------
    async def audit_events(
        self, *, actor: str | None, ref: str | None, offset: int, limit: int
    ) -> tuple[list[AuditEvent], int]:
        """Audit events, newest first, optionally by actor or touching one ref; and the total."""

    async def audit_since(self, after: str | None, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` audit events with ids after ``after`` (all when None), oldest first."""

    # -- federation -----------------------------------------------------------------------
    async def put_peer(self, peer: PeerRecord) -> None:
        """Create or replace the peer named ``peer.name`` (its config and status)."""

    async def get_peers(self) -> list[PeerRecord]:
        """Every configured peer, by name."""

    async def delete_peer(self, name: str) -> bool:
        """Forget a peer's config and status; False when there is no such peer."""

    async def put_token(self, token: ApiToken) -> None:
        """Store a new API token (its hash, never its secret)."""

    async def token_by_hash(self, digest: str) -> ApiToken | None: ...

    async def list_tokens(self) -> list[ApiToken]: ...

    async def revoke_token(self, token_id: str, at: str) -> bool:
        """Mark a token revoked; False when no such token exists or it was already revoked."""
