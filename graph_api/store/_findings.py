"""Rows both stores write and read for findings and dependency health: findings, open-finding
counts per entity, package declarations (licenses, hashes), vulnerabilities and package
dependencies.

Findings, declarations, vulnerabilities and dependencies are joined to entities and packages by
value (``entity``, ``purl``), not by edges: an entity or package that is removed and comes back
finds its facts again, and removing one never has to detach anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson

from graph_api.model.findings import SEVERITIES, Severity
from graph_api.store._facts import grouped
from graph_api.store._records import batched
from graph_api.store.port import (
    FindingFilter,
    FindingRecord,
    LicenseStatement,
    PackageDeclaration,
    PackageDependency,
    VulnerabilityRecord,
)

BATCH = 5000
# Columns in a fixed order: the RETURN list of every read and the row shape of every write.
FINDING_FIELDS = (
    "id",
    "source",
    "entity",
    "kind",
    "tool",
    "rule",
    "fingerprint",
    "severity",
    "status",
    "message",
    "first_seen",
    "last_seen",
    "resolved_at",
    "rule_name",
    "file",
    "line",
    "package",
    "advisory",
    "help_uri",
)
# ``rank`` is written beside the fields so that pages sort worst first inside the store.
FINDING_ROW_FIELDS = (*FINDING_FIELDS, "rank")
COUNT_FIELDS = ("entity", *(s.value.lower() for s in SEVERITIES))
DECLARATION_FIELDS = ("id", "source", "purl", "licenses", "hashes")
VULNERABILITY_FIELDS = (
    "key",
    "source",
    "id",
    "purl",
    "aliases",
    "summary",
    "severity",
    "score",
    "fixed",
)
DEPENDENCY_FIELDS = ("id", "source", "purl", "depends_on")

FINDING_CLAUSES = {
    "tools": "f.tool IN $tools",
    "severities": "f.severity IN $severities",
    "statuses": "f.status IN $statuses",
    "kinds": "f.kind IN $kinds",
}
FINDING_ORDER = "f.rank DESC, f.entity, f.rule, f.file, f.line, f.id"


def finding_row(finding: FindingRecord) -> dict[str, Any]:
    """The stored properties of a finding, with its ``rank``."""
    row = {name: getattr(finding, name) for name in FINDING_FIELDS}
    row["rank"] = Severity(finding.severity).rank
    return row


def finding_from_values(values: Sequence[Any]) -> FindingRecord:
    """A finding from a row in ``FINDING_FIELDS`` order."""
    row = dict(zip(FINDING_FIELDS, values, strict=True))
    if row["line"] is not None:
        row["line"] = int(row["line"])
    return FindingRecord(**row)


def finding_clause(where: FindingFilter) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (fixed fragments only) and parameters, entities aside."""
    clauses = ["true"]
    params: dict[str, Any] = {}
    for name, clause in FINDING_CLAUSES.items():
        values = getattr(where, name)
        if values is not None:
            clauses.append(clause)
            params[name] = [v.upper() for v in values] if name != "tools" else list(values)
    return " AND ".join(clauses), params


def count_rows(rows: Iterable[Sequence[Any]], refs: Sequence[str]) -> list[dict[str, Any]]:
    """Open-count rows from ``(entity, severity, count)``; refs without open findings get none."""
    counts: dict[str, dict[str, Any]] = {}
    for entity, severity, number in rows:
        row = counts.setdefault(entity, {f: 0 for f in COUNT_FIELDS} | {"entity": entity})
        row[severity.lower()] = int(number)
    return [counts[ref] for ref in refs if ref in counts]


def touched_entities(findings: Iterable[FindingRecord]) -> list[str]:
    return sorted({f.entity for f in findings})


def declaration_rows(items: Iterable[PackageDeclaration], source: str) -> list[dict[str, Any]]:
    """One row per package an SBOM declares, licenses as JSON."""
    return [
        {
            "id": f"{source}\n{item.purl}",
            "source": source,
            "purl": item.purl,
            "licenses": orjson.dumps(
                [{"raw": s.raw, "expression": s.expression} for s in item.licenses]
            ).decode(),
            "hashes": list(item.hashes),
        }
        for item in items
    ]


def declaration_from_values(values: Sequence[Any]) -> PackageDeclaration:
    """From ``purl, licenses, hashes, source``."""
    purl, licenses, hashes, source = values
    statements = [LicenseStatement(**s) for s in orjson.loads(licenses or "[]")]
    return PackageDeclaration(purl, statements, list(hashes or []), source)


def vulnerability_rows(items: Iterable[VulnerabilityRecord], source: str) -> list[dict[str, Any]]:
    """One row per vulnerability and affected package, as the source states it."""
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        key = f"{source}\n{item.id}\n{item.purl}"
        rows[key] = {
            "key": key,
            "source": source,
            "id": item.id,
            "purl": item.purl,
            "aliases": list(item.aliases),
            "summary": item.summary,
            "severity": item.severity,
            "score": item.score,
            "fixed": list(item.fixed),
        }
    return list(rows.values())


def vulnerability_from_values(values: Sequence[Any]) -> VulnerabilityRecord:
    """From ``VULNERABILITY_FIELDS`` without ``key``."""
    source, vuln_id, purl, aliases, summary, severity, score, fixed = values
    return VulnerabilityRecord(
        id=vuln_id,
        purl=purl,
        aliases=list(aliases or []),
        summary=summary,
        severity=severity,
        score=float(score) if score is not None else None,
        fixed=list(fixed or []),
        source=source,
    )


def dependency_rows(items: Iterable[PackageDependency], source: str) -> list[dict[str, Any]]:
    """One row per package dependency an SBOM states."""
    rows = {
        f"{source}\n{item.purl}\n{item.depends_on}": {
            "id": f"{source}\n{item.purl}\n{item.depends_on}",
            "source": source,
            "purl": item.purl,
            "depends_on": item.depends_on,
        }
        for item in items
    }
    return list(rows.values())


class FindingReads:
    """The findings reads of the port, shared by both stores: each store supplies its own
    statements (``cypher``, with the same names) and its ``_read``."""

    cypher: Any
    _read: Callable[..., Awaitable[list[list[Any]]]]

    async def source_findings(self, source: str) -> list[FindingRecord]:
        rows = await self._read(self.cypher.SOURCE_FINDINGS, {"source": source})
        return [finding_from_values(row) for row in rows]

    async def findings_of(self, refs: Sequence[str]) -> dict[str, list[FindingRecord]]:
        if not refs:
            return {}
        found: list[FindingRecord] = []
        for chunk in batched(list(dict.fromkeys(refs)), BATCH):
            rows = await self._read(self.cypher.FINDINGS_OF, {"refs": list(chunk)})
            found.extend(finding_from_values(row) for row in rows)
        found.sort(key=_worst_first)
        return grouped(((f.entity, f) for f in found), refs)

    async def find_findings(
        self, where: FindingFilter, offset: int, limit: int
    ) -> tuple[list[FindingRecord], int]:
        clause, params = finding_clause(where)
        scoped = where.entities is not None
        if scoped:
            params["refs"] = list(dict.fromkeys(where.entities or []))
            if not params["refs"]:
                return [], 0
        total = (await self._read(self.cypher.finding_count(clause, scoped), params))[0][0]
        if limit <= 0 or offset >= total:
            return [], int(total)
        rows = await self._read(
            self.cypher.finding_page(clause, scoped), {**params, "offset": offset, "limit": limit}
        )
        return [finding_from_values(row) for row in rows], int(total)

    async def open_finding_counts(self, refs: Sequence[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for chunk in batched(list(dict.fromkeys(refs)), BATCH):
            for row in await self._read(self.cypher.OPEN_COUNTS, {"refs": list(chunk)}):
                entity, *numbers = row
                found[entity] = {s.value: int(n) for s, n in zip(SEVERITIES, numbers, strict=True)}
        return found

    async def package_declarations(
        self, purls: Sequence[str]
    ) -> dict[str, list[PackageDeclaration]]:
        rows = await self._by_purl(self.cypher.PACKAGE_DECLARATIONS, purls)
        return grouped(((row[0], declaration_from_values(row)) for row in rows), purls)

    async def package_vulnerabilities(
        self, purls: Sequence[str]
    ) -> dict[str, list[VulnerabilityRecord]]:
        rows = await self._by_purl(self.cypher.PACKAGE_VULNERABILITIES, purls)
        found = sorted((vulnerability_from_values(row) for row in rows), key=_by_id)
        return grouped(((v.purl, v) for v in found), purls)

    async def package_dependencies(
        self, purls: Sequence[str]
    ) -> dict[str, list[PackageDependency]]:
        rows = await self._by_purl(self.cypher.PACKAGE_DEPENDENCIES, purls)
        return grouped(((row[0], PackageDependency(*row)) for row in rows), purls)

    async def _by_purl(self, query: str, purls: Sequence[str]) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for chunk in batched(list(dict.fromkeys(purls)), BATCH):
            rows.extend(await self._read(query, {"purls": list(chunk)}))
        return rows


def _worst_first(finding: FindingRecord) -> tuple[Any, ...]:
    return (
        -Severity(finding.severity).rank,
        finding.rule,
        finding.file or "",
        finding.line or 0,
        finding.id,
    )


def _by_id(item: VulnerabilityRecord) -> tuple[str, str]:
    return (item.id, item.source)
