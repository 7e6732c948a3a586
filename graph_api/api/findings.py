"""GraphQL types of findings and dependency health: findings, open-finding summaries, and the
licenses and vulnerabilities of packages.

Who may see findings is decided by :class:`~graph_api.security.policy.Policy` (the owning team
and the teams above it, admins, the security roles); a denied field is a FORBIDDEN error.
Package licenses and vulnerabilities are public facts about packages and need no such check.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from graph_api import findings as service
from graph_api.api.context import RequestContext
from graph_api.api.errors import BadInput, NotFound
from graph_api.model import RefError, normalize_ref
from graph_api.model.findings import SEVERITIES, Severity, spdx_ids
from graph_api.store import (
    EntityRecord,
    FindingFilter,
    FindingRecord,
    PackageDeclaration,
    VulnerabilityRecord,
)

if TYPE_CHECKING:
    from graph_api.api.types import Entity

Ctx = Info[RequestContext, None]
LazyEntity = Annotated["Entity", strawberry.lazy("graph_api.api.types")]


@strawberry.enum(description="Worst first.")
class FindingSeverity(Enum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"


@strawberry.enum
class FindingStatus(Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    SUPPRESSED = "SUPPRESSED"


@strawberry.enum(
    description="CODE: a code-scanning result (SARIF). VULNERABILITY: a known advisory "
    "affecting a package in use. LICENSE: a package license the policy denies or wants reviewed."
)
class FindingKind(Enum):
    CODE = "CODE"
    VULNERABILITY = "VULNERABILITY"
    LICENSE = "LICENSE"


@strawberry.type(
    description="What a scanner, SBOM, advisory or the license policy says about "
    "one entity; a re-scan updates it by its fingerprint."
)
class Finding:
    id: strawberry.ID
    kind: FindingKind
    severity: FindingSeverity
    status: FindingStatus
    tool: str
    rule_id: str = strawberry.field(description="Rule, advisory id, or license-denied/-review.")
    rule_name: str | None
    message: str
    file: str | None
    line: int | None
    package_purl: str | None = strawberry.field(description="The package it is about, if any.")
    advisory_id: str | None
    help_uri: str | None
    fingerprint: str
    source: str
    first_seen: str
    last_seen: str
    resolved_at: str | None
    entity_ref: str

    @strawberry.field
    async def entity(self, info: Ctx) -> LazyEntity | None:
        from graph_api.api.types import to_entity  # noqa: PLC0415 - types imports this module

        record = await info.context.entity_by_ref.load(self.entity_ref)
        return to_entity(record) if record is not None else None


def to_finding(record: FindingRecord) -> Finding:
    """The GraphQL object for a stored finding."""
    return Finding(
        id=strawberry.ID(record.id),
        kind=FindingKind(record.kind),
        severity=FindingSeverity(record.severity),
        status=FindingStatus(record.status),
        tool=record.tool,
        rule_id=record.rule,
        rule_name=record.rule_name,
        message=record.message,
        file=record.file,
        line=record.line,
        package_purl=record.package,
        advisory_id=record.advisory,
        help_uri=record.help_uri,
        fingerprint=record.fingerprint,
        source=record.source,
        first_seen=record.first_seen,
        last_seen=record.last_seen,
        resolved_at=record.resolved_at,
        entity_ref=record.entity,
    )


@strawberry.type(description="Open findings per severity.")
class FindingSummary:
    critical: int
    high: int
    medium: int
    low: int
    info: int
    total: int


def to_summary(counts: dict[str, int]) -> FindingSummary:
    return FindingSummary(
        **{s.value.lower(): counts.get(s.value, 0) for s in SEVERITIES},
        total=sum(counts.values()),
    )


@strawberry.input(description="All given criteria must hold; lists match any of their values.")
class FindingFilterInput:
    entity: str | None = strawberry.field(default=None, description="Kind defaults to Component.")
    team: str | None = strawberry.field(
        default=None, description="Group ref: what it and its child teams own."
    )
    system: str | None = strawberry.field(default=None, description="The system and its parts.")
    tool: list[str] | None = None
    severity: list[FindingSeverity] | None = None
    status: list[FindingStatus] | None = strawberry.field(
        default=None, description="Default: every status."
    )
    kind: list[FindingKind] | None = None


def _ref(text: str, kind: str, argument: str) -> str:
    try:
        return normalize_ref(text, default_kind=kind)
    except RefError as exc:
        raise BadInput(f"{argument}: {exc}") from exc


async def _record(info: Ctx, ref: str, argument: str) -> EntityRecord:
    record = await info.context.entity_by_ref.load(ref)
    if record is None or record.stub:
        raise NotFound(f"{argument}: no entity {ref}")
    return record


async def _authorised_scope(info: Ctx, record: EntityRecord) -> list[str]:
    """The entities of ``record``'s findings, once the viewer may see them."""
    context = info.context
    owner = record.ref if record.kind.lower() == "group" else record.owner
    await context.policy.require_findings(context.viewer, owner, record.ref)
    return await service.scope_of(context.store, record)


async def find_findings(
    info: Ctx, filter: FindingFilterInput | None, offset: int, limit: int
) -> tuple[list[Finding], int]:
    """The root ``findings`` page. Without an entity, team or system, only admins and the
    security roles may list findings across every team."""
    context = info.context
    given = filter or FindingFilterInput()
    scopes: list[set[str]] = []
    for argument, text, kind in (
        ("filter.entity", given.entity, "Component"),
        ("filter.team", given.team, "Group"),
        ("filter.system", given.system, "System"),
    ):
        if text:
            record = await _record(info, _ref(text, kind, argument), argument)
            scopes.append(set(await _authorised_scope(info, record)))
    if not scopes:
        context.policy.require_all_findings(context.viewer)
    where = FindingFilter(
        entities=sorted(set.intersection(*scopes)) if scopes else None,
        tools=given.tool,
        severities=[s.value for s in given.severity] if given.severity else None,
        statuses=[s.value for s in given.status] if given.status else None,
        kinds=[k.value for k in given.kind] if given.kind else None,
    )
    records, total = await context.store.find_findings(where, offset, limit)
    return [to_finding(r) for r in records], total


async def entity_findings(
    info: Ctx, ref: str, status: Sequence[FindingStatus] | None
) -> list[Finding]:
    """An entity's findings, worst first, for a viewer who may see them."""
    record = await _record(info, ref, "ref")
    await info.context.policy.require_findings(info.context.viewer, record.owner, ref)
    wanted = {s.value for s in status} if status else None
    return [
        to_finding(f)
        for f in await info.context.findings_by_ref.load(ref)
        if wanted is None or f.status in wanted
    ]


async def finding_summary(info: Ctx, ref: str) -> FindingSummary:
    """Open findings per severity of an entity's scope (see ``scope_of``)."""
    record = await _record(info, ref, "ref")
    refs = await _authorised_scope(info, record)
    counts = await info.context.open_counts_by_ref.load_many(refs)
    return to_summary(service.summarise(counts))


@strawberry.type
class WithFindings:
    """``findingSummary`` on the kinds findings roll up to."""

    ref: str

    @strawberry.field(
        description="Open findings per severity: of a component itself; of a system and its "
        "parts; of a domain and everything in it; of a group and what it and its child teams "
        "own. Visible to the owning team, the teams above it, admins and the security roles; "
        "others get FORBIDDEN."
    )
    async def finding_summary(self, info: Ctx) -> FindingSummary | None:
        return await finding_summary(info, self.ref)


@strawberry.type(description="A license as an SBOM declares it for a package.")
class PackageLicense:
    expression: str | None = strawberry.field(
        description="SPDX expression, only when the declaration certainly means it."
    )
    spdx_ids: list[str] = strawberry.field(description="The SPDX license ids in the expression.")
    raw: str = strawberry.field(description="As the SBOM wrote it.")
    source: str


def to_licenses(declarations: Sequence[PackageDeclaration]) -> list[PackageLicense]:
    """One entry per license statement of every SBOM that lists the package."""
    return [
        PackageLicense(
            expression=statement.expression,
            spdx_ids=spdx_ids(statement.expression),
            raw=statement.raw,
            source=declaration.source,
        )
        for declaration in declarations
        for statement in declaration.licenses
    ]


@strawberry.type(description="A known vulnerability of a package version.")
class PackageVulnerability:
    id: str = strawberry.field(description="OSV, GHSA or CVE id.")
    aliases: list[str]
    summary: str | None
    severity: FindingSeverity
    score: float | None = strawberry.field(description="CVSS base score, when one was given.")
    fixed_versions: list[str]
    sources: list[str] = strawberry.field(description="The sources that state it.")


def to_vulnerabilities(records: Sequence[VulnerabilityRecord]) -> list[PackageVulnerability]:
    """One entry per id, merging what every source says (worst severity, all aliases)."""
    merged: dict[str, PackageVulnerability] = {}
    for record in records:
        severity = FindingSeverity(record.severity)
        found = merged.get(record.id)
        if found is None:
            merged[record.id] = PackageVulnerability(
                id=record.id,
                aliases=list(record.aliases),
                summary=record.summary,
                severity=severity,
                score=record.score,
                fixed_versions=list(record.fixed),
                sources=[record.source],
            )
            continue
        found.aliases = sorted({*found.aliases, *record.aliases})
        found.fixed_versions = sorted({*found.fixed_versions, *record.fixed})
        found.sources.append(record.source)
        found.summary = found.summary or record.summary
        if _rank(severity) > _rank(found.severity):
            found.severity, found.score = severity, record.score
    return sorted(merged.values(), key=lambda v: (-_rank(v.severity), v.id))


def _rank(severity: FindingSeverity) -> int:
    return Severity(severity.value).rank
