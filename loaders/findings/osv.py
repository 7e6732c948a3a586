"""OSV advisories matched to the catalog's packages: ``devgraph load osv FILE|DIR...``.

Records in OSV schema 1.x as advisory databases publish them (one record per file, or a JSON
array of records) and osv-scanner's ``--format json`` output. Each record's affected packages
are matched, by ecosystem and normalised name, against every package version the catalog holds
(SBOMs, manifests with pinned versions) in that ecosystem's version order. Each argument is one
source, ``osv:<path>``; every entity that uses an affected version gets a VULNERABILITY finding.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from graph_api.findings import ObservedFinding, SourceReport
from graph_api.model.findings import FindingKind, Severity, severity_from_score, severity_from_word
from graph_api.model.packages import ECOSYSTEMS, package_name
from graph_api.store import (
    GraphStore,
    PackageFilter,
    PackageRecord,
    SourceFacts,
    VulnerabilityRecord,
)
from loaders.findings._report import Doc, ReportError, first_line, read_json
from loaders.findings.versions import AffectedMatcher

TOOL = "osv"
_CVSS = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}
ALL_PACKAGES = 10**9


@dataclass(slots=True)
class AffectedPackage:
    ecosystem: str
    name: str
    matcher: AffectedMatcher
    fixed: list[str]


@dataclass(slots=True)
class Advisory:
    """One OSV record, ready to match."""

    id: str
    modified: str
    aliases: list[str]
    summary: str | None
    severity: Severity
    score: float | None
    url: str
    affected: list[AffectedPackage] = field(default_factory=list)


def read_advisories(path: Path) -> list[Advisory]:
    """Every record in a file, or in every ``*.json`` file below a folder; withdrawn ones are
    left out (they match nothing), and of two records with one id the later modified wins.

    Raises:
        ReportError: a file that is not JSON, not OSV, or has a wrong value (with its path).
    """
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ReportError(path, "", "no *.json files in this folder")
    found: dict[str, Advisory] = {}
    for file in files:
        for advisory in parse_osv(file, read_json(file)):
            current = found.get(advisory.id)
            if current is None or advisory.modified > current.modified:
                found[advisory.id] = advisory
    return list(found.values())


def parse_osv(file: Path, data: Any) -> list[Advisory]:
    """Records from one parsed document: a record, an array of them, or osv-scanner output."""
    doc = Doc(str(file), data)
    if isinstance(data, list):
        records = [doc.at(i) for i in range(len(data))]
    elif isinstance(data, dict) and "results" in data:
        records = [
            vulnerability
            for result in doc.items("results")
            for package in result.items("packages")
            for vulnerability in package.items("vulnerabilities")
        ]
    elif isinstance(data, dict):
        records = [doc]
    else:
        raise doc.fail("must be an OSV record, an array of records, or osv-scanner output")
    found = []
    for record in records:
        try:
            advisory = _advisory(record)
        except (AttributeError, TypeError, KeyError) as exc:
            raise record.fail(f"has a value of the wrong type ({exc})") from exc
        if advisory is not None:
            found.append(advisory)
    return found


def _advisory(record: Doc) -> Advisory | None:
    if not isinstance(record.value, dict):
        raise record.fail("must be an OSV record (an object)")
    version = record.text("schema_version")
    if version is not None and not version.startswith("1."):
        raise record.at("schema_version").fail(f"OSV schema 1.x is supported, not {version!r}")
    vuln_id = record.text("id", required=True) or ""
    if record.text("withdrawn"):
        return None
    severity, score = _severity(record)
    references = [r for r in record.items("references") if isinstance(r.value, dict)]
    advisory_urls = [r.text("url") for r in references if r.text("type") == "ADVISORY"]
    advisory = Advisory(
        id=vuln_id,
        modified=record.text("modified") or "",
        aliases=sorted({a.value for a in record.items("aliases") if isinstance(a.value, str)}),
        summary=record.text("summary") or first_line(record.text("details")),
        severity=severity,
        score=score,
        url=next((u for u in advisory_urls if u), f"https://osv.dev/vulnerability/{vuln_id}"),
    )
    for affected in record.items("affected"):
        package = affected.obj("package")
        ecosystem = ECOSYSTEMS.get((package.text("ecosystem") or "").split(":", 1)[0].lower())
        name = package.text("name")
        if ecosystem is None or not name:
            continue  # an ecosystem devgraph's catalog never holds (Debian, Alpine, ...)
        for entry in affected.items("ranges"):
            events = entry.items("events", required=True)
            if entry.text("type", required=True) not in ("ECOSYSTEM", "SEMVER", "GIT"):
                raise entry.at("type").fail("must be ECOSYSTEM, SEMVER or GIT")
            for event in events:
                if not isinstance(event.value, dict):
                    raise event.fail("must be an object")
        fixed = sorted(
            {
                str(event["fixed"])
                for entry in affected.value.get("ranges") or []
                for event in entry.get("events") or []
                if "fixed" in event
            }
        )
        advisory.affected.append(
            AffectedPackage(
                ecosystem=ecosystem,
                name=package_name(ecosystem, name),
                matcher=AffectedMatcher(affected.value, ecosystem),
                fixed=fixed,
            )
        )
    return advisory


def _severity(record: Doc) -> tuple[Severity, float | None]:
    """The worst CVSS score given (any version), else the database's own word (GHSA's
    ``database_specific.severity``); an advisory that rates nothing counts as MEDIUM."""
    best: float | None = None
    for entry in [*record.items("severity"), *_affected_severities(record)]:
        score = _cvss_score(entry.text("type") or "", entry.text("score") or "")
        if score is not None and (best is None or score > best):
            best = score
    if best is not None:
        return severity_from_score(best), best
    word = record.obj("database_specific").value.get("severity")
    return severity_from_word(word if isinstance(word, str) else None) or Severity.MEDIUM, None


def _affected_severities(record: Doc) -> Iterable[Doc]:
    for affected in record.items("affected"):
        yield from affected.items("severity")


@functools.lru_cache(maxsize=4096)
def _cvss_score(kind: str, vector: str) -> float | None:
    calculator = _CVSS.get(kind)
    if calculator is None or not vector:
        return None
    try:
        return float(calculator(vector).base_score)
    except (CVSSError, ValueError, KeyError):
        return None


def match(
    advisories: Iterable[Advisory], packages: Iterable[PackageRecord]
) -> list[tuple[Advisory, AffectedPackage, PackageRecord]]:
    """Every (advisory, affected entry, catalog package) where the package's pinned version is
    affected; a package outside every range is not."""
    by_name: dict[tuple[str, str], list[PackageRecord]] = defaultdict(list)
    for package in packages:
        if package.version:
            by_name[(package.ecosystem, package_name(package.ecosystem, package.name))].append(
                package
            )
    found = []
    for advisory in advisories:
        for affected in advisory.affected:
            for package in by_name.get((affected.ecosystem, affected.name), ()):
                if affected.matcher.matches(package.version):
                    found.append((advisory, affected, package))
    return found


async def osv_report(store: GraphStore, source: str, advisories: list[Advisory]) -> SourceReport:
    """Match advisories against the catalog: the vulnerabilities of each affected package, and
    a finding for each entity that uses one."""
    packages, _ = await store.find_packages(PackageFilter(), 0, ALL_PACKAGES)
    matched = match(advisories, packages)
    users = await store.package_users(sorted({p.purl for _, _, p in matched}))
    vulnerabilities: list[VulnerabilityRecord] = []
    findings: list[ObservedFinding] = []
    for advisory, affected, package in matched:
        vulnerabilities.append(
            VulnerabilityRecord(
                id=advisory.id,
                purl=package.purl,
                aliases=advisory.aliases,
                summary=advisory.summary,
                severity=advisory.severity.value,
                score=advisory.score,
                fixed=affected.fixed,
            )
        )
        fix = f"; fixed in {', '.join(affected.fixed)}" if affected.fixed else ""
        for entity in sorted({use.ref for use in users.get(package.purl, [])}):
            findings.append(
                ObservedFinding(
                    entity=entity,
                    kind=FindingKind.VULNERABILITY.value,
                    tool=TOOL,
                    rule=advisory.id,
                    fingerprint=f"vulnerability:{advisory.id}:{package.purl}",
                    severity=advisory.severity.value,
                    message=f"{advisory.id} affects {package.name} {package.version}"
                    + (f": {advisory.summary}" if advisory.summary else "")
                    + fix,
                    package=package.purl,
                    advisory=advisory.id,
                    help_uri=advisory.url,
                )
            )
    return SourceReport(
        source=source,
        findings=findings,
        facts=SourceFacts(vulnerabilities=vulnerabilities),
    )
