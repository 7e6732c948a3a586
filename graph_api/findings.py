"""The findings lifecycle: how a scanner report, an SBOM or a set of advisories changes the
findings (and package facts) of its source.

A source is one tool's view of one entity (``sarif:<entity>:<tool>``), one SBOM of an entity,
or one set of advisories. Applying what it states now keeps each finding's first-seen time,
updates what is still there, resolves what is gone, and reopens what comes back. A report whose
content is the one applied last time writes nothing at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from graph_api.ingest import audit_event
from graph_api.model import RelationType
from graph_api.model.entity import content_hash
from graph_api.model.findings import SEVERITIES, FindingStatus, Severity, finding_id
from graph_api.store import (
    ChangeSet,
    Direction,
    EntityChange,
    EntityRecord,
    FindingChanges,
    FindingFilter,
    FindingRecord,
    GraphStore,
    SourceFacts,
)
from graph_api.store._records import now_iso

# Plain strings, as stored: the lifecycle compares them for every finding of a report.
OPEN = FindingStatus.OPEN.value
RESOLVED = FindingStatus.RESOLVED.value
SUPPRESSED = FindingStatus.SUPPRESSED.value
MAX_TEAM_DEPTH = 30
# Up to this many teams, one ownership walk per team beats one batched lookup.
FEW_TEAMS = 24
ALL_FINDINGS = 10**9


class FindingsError(ValueError):
    """A report that cannot be applied as it stands (e.g. older than the one applied last)."""


@dataclass(slots=True)
class ObservedFinding:
    """A finding as a report states it now, before the lifecycle gives it times and a status.

    ``fingerprint`` must be stable across re-scans and unique within the source and entity.
    """

    entity: str
    kind: str
    tool: str
    rule: str
    fingerprint: str
    severity: str
    message: str
    suppressed: bool = False
    rule_name: str | None = None
    file: str | None = None
    line: int | None = None
    package: str | None = None
    advisory: str | None = None
    help_uri: str | None = None


@dataclass(slots=True)
class SourceReport:
    """Everything one source states now.

    Args:
        source: the source key.
        findings: every finding the source states (an empty list resolves all it stated).
        reported_at: when the report was made (UTC ISO 8601), if it says; else the load time
            is used and only the content decides whether anything changed.
        facts: package facts the source states (SBOM packages, declarations, vulnerabilities,
            dependencies); each kind given replaces what the source stated before.
    """

    source: str
    findings: list[ObservedFinding] = field(default_factory=list)
    reported_at: str | None = None
    facts: SourceFacts = field(default_factory=SourceFacts)


@dataclass(slots=True)
class FindingsReport:
    """What applying one source did."""

    source: str
    opened: int = 0
    reopened: int = 0
    updated: int = 0
    resolved: int = 0
    open: int = 0
    suppressed: int = 0
    unchanged: bool = False
    entities: list[str] = field(default_factory=list)
    by_severity: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "opened": self.opened,
            "reopened": self.reopened,
            "updated": self.updated,
            "resolved": self.resolved,
            "open": self.open,
            "suppressed": self.suppressed,
            "unchanged": self.unchanged,
            "entities": list(self.entities),
            "open_by_severity": dict(self.by_severity),
        }


async def apply_report(
    store: GraphStore, report: SourceReport, *, actor: str = "system", action: str = "load"
) -> FindingsReport:
    """Make the store hold what ``report`` states now, in one transaction with its facts.

    Raises:
        FindingsError: the report is dated before the one applied last for this source.

    Example:
        >>> await apply_report(store, SourceReport("sarif:component:default/a:bandit", found))  # doctest: +SKIP
    """
    source = report.source
    result = FindingsReport(source=source)
    digest = content_hash([report.reported_at, report.findings, report.facts])
    recorded = (await store.source_states([source])).get(source) or {}
    previous_at = recorded.get("reported_at")
    if report.reported_at and previous_at and report.reported_at < previous_at:
        raise FindingsError(
            f"{source}: this report is from {report.reported_at}, older than the one loaded "
            f"last ({previous_at}); load reports oldest first"
        )
    if recorded.get("hash") == digest:
        result.unchanged = True
        return result
    at = report.reported_at or now_iso()
    existing = {f.id: f for f in await store.source_findings(source)}
    changes = FindingChanges()
    stated: dict[str, FindingRecord] = {}
    for found in report.findings:
        key = finding_id(source, found.entity, found.fingerprint)
        if key in stated:
            continue
        old = existing.get(key)
        record = stated[key] = _record(key, source, found, old, at)
        if old is None:
            changes.created.append(record)
            result.opened += record.status == OPEN
        elif old != record:
            changes.updated.append(record)
            if old.status == RESOLVED:
                result.reopened += 1
            else:
                result.updated += 1
    for key, old in existing.items():
        if key not in stated and old.status != RESOLVED:
            changes.updated.append(replace(old, status=RESOLVED, resolved_at=at))
            result.resolved += 1
    _count(result, list(stated.values()))
    facts = report.facts
    if changes.created or changes.updated:
        facts = replace(facts, findings=changes)
    touched = sorted({f.entity for f in [*stated.values(), *existing.values()]})
    state = {"hash": digest, "reported_at": report.reported_at}
    audit = audit_event(
        actor, action, source, [EntityChange(ref, recorded.get("hash"), digest) for ref in touched]
    )
    await store.apply(ChangeSet(source=source, facts=facts, state=state, audit=audit))
    return result


def _record(
    key: str, source: str, found: ObservedFinding, old: FindingRecord | None, at: str
) -> FindingRecord:
    status = SUPPRESSED if found.suppressed else OPEN
    return FindingRecord(
        id=key,
        source=source,
        entity=found.entity,
        kind=found.kind,
        tool=found.tool,
        rule=found.rule,
        fingerprint=found.fingerprint,
        severity=found.severity,
        status=status,
        message=found.message,
        first_seen=old.first_seen if old is not None else at,
        last_seen=at,
        resolved_at=None,
        rule_name=found.rule_name,
        file=found.file,
        line=found.line,
        package=found.package,
        advisory=found.advisory,
        help_uri=found.help_uri,
    )


def _count(result: FindingsReport, findings: list[FindingRecord]) -> None:
    open_findings = [f for f in findings if f.status == OPEN]
    result.open = len(open_findings)
    result.suppressed = sum(f.status == SUPPRESSED for f in findings)
    result.entities = sorted({f.entity for f in findings})
    result.by_severity = dict(Counter(f.severity for f in open_findings))


async def teams_below(store: GraphStore, team: str) -> list[str]:
    """The team and every team below it (childOf, transitively), sorted."""
    below = await store.reachable(team, RelationType.CHILD_OF, Direction.IN, MAX_TEAM_DEPTH)
    return sorted({team, *(r.ref for r in below)})


async def owned_entities(store: GraphStore, team: str) -> list[str]:
    """Entities owned by the team or a team below it: what a team's findings are about."""
    teams = await teams_below(store, team)
    if len(teams) > FEW_TEAMS:
        owned = await store.related(teams, RelationType.OWNED_BY, Direction.IN)
        return sorted({ref for refs in owned.values() for ref in refs})
    # A traversal from one team is an index walk (~1 ms at 100k entities); the batched
    # lookup plans a scan of every entity (~50 ms), which only pays off for many teams.
    found: set[str] = set()
    for each in teams:
        found.update(
            r.ref for r in await store.reachable(each, RelationType.OWNED_BY, Direction.IN, 1)
        )
    return sorted(found)


def summarise(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Open findings per severity, added up over entities (every severity present)."""
    total = {s.value: 0 for s in SEVERITIES}
    for entity_counts in counts:
        for severity, number in entity_counts.items():
            total[severity] += number
    return total


@dataclass(slots=True)
class TeamFindings:
    """A team's open findings, per component, worst first."""

    team: str | None
    by_entity: dict[str, list[FindingRecord]]

    @property
    def counts(self) -> dict[str, int]:
        return summarise(
            dict(Counter(f.severity for f in findings)) for findings in self.by_entity.values()
        )


async def open_findings_by_team(
    store: GraphStore, *, team: str | None = None, worst: Severity | None = None
) -> list[TeamFindings]:
    """Open findings grouped by owning team and entity, worst team and entity first.

    Args:
        team: only entities this team (or a team below it) owns.
        worst: only findings of this severity or worse.
    """
    severities = [s.value for s in SEVERITIES if worst is None or s.rank >= worst.rank]
    where = FindingFilter(statuses=[OPEN], severities=severities)
    if team is not None:
        where.entities = await owned_entities(store, team)
    findings, _ = await store.find_findings(where, 0, ALL_FINDINGS)
    refs = sorted({f.entity for f in findings})
    owners = {r.ref: r.owner for r in await store.get_entities(refs) if r is not None}
    teams: dict[str | None, dict[str, list[FindingRecord]]] = {}
    for finding in findings:
        owner = owners.get(finding.entity)
        teams.setdefault(owner, {}).setdefault(finding.entity, []).append(finding)
    grouped = [TeamFindings(owner, by_entity) for owner, by_entity in teams.items()]
    for group in grouped:
        group.by_entity = dict(
            sorted(group.by_entity.items(), key=lambda kv: (_badness(kv[1]), kv[0]))
        )
    return sorted(
        grouped,
        key=lambda g: (_badness([f for fs in g.by_entity.values() for f in fs]), g.team or "~"),
    )


def _badness(findings: list[FindingRecord]) -> tuple[int, ...]:
    """Sort key, worst first: more critical, then more high, ... findings."""
    counts = Counter(f.severity for f in findings)
    return tuple(-counts.get(s.value, 0) for s in SEVERITIES)


async def scope_of(store: GraphStore, record: EntityRecord) -> list[str]:
    """The entities whose findings make up ``record``'s: a group's are what it and its child
    teams own; a system's, itself and its parts; a domain's, everything part of it at any depth."""
    kind = record.kind.lower()
    if kind == "group":
        return await owned_entities(store, record.ref)
    if kind in ("system", "domain"):
        parts = await store.reachable(
            record.ref, RelationType.PART_OF, Direction.IN, MAX_TEAM_DEPTH
        )
        return sorted({record.ref, *(r.ref for r in parts)})
    return [record.ref]
