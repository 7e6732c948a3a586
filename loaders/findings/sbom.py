"""SBOMs as an entity's packages, licenses, dependencies and known vulnerabilities:
``devgraph load cyclonedx|spdx FILE... [--entity REF]``.

CycloneDX 1.4-1.7 JSON and SPDX 2.2/2.3 JSON. One SBOM format of one entity is one source
(``sbom:cyclonedx:<entity>``): a newer SBOM replaces the packages the previous one listed, and
the findings it implies (vulnerabilities it carries, licenses the policy flags) follow the
findings lifecycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from graph_api.findings import ObservedFinding, SourceReport
from graph_api.model.findings import FindingKind, Severity, severity_from_score, severity_from_word
from graph_api.model.packages import ECOSYSTEMS, package_name, purl
from graph_api.settings import LicensePolicy
from graph_api.store import (
    LicenseStatement,
    PackageDeclaration,
    PackageDependency,
    PackageRecord,
    PackageUse,
    SourceFacts,
    VulnerabilityRecord,
)
from loaders.findings._report import Doc, EntityHints, first_line, root
from loaders.findings.licenses import Verdict, combined, statement, verdict

LICENSE_TOOL = "license-policy"
_CYCLONEDX_VERSION = re.compile(r"^1\.(\d+)$")
_SPDX_VERSIONS = frozenset({"SPDX-2.2", "SPDX-2.3"})
_NO_LICENSE = frozenset({"NOASSERTION", "NONE", ""})
# CycloneDX analysis states that say the BOM's subject is not exposed: kept, as suppressed.
_NOT_EXPOSED = frozenset({"not_affected", "false_positive"})
_ALGORITHM = re.compile(r"^(SHA|MD|BLAKE)-?(\d.*)$", re.IGNORECASE)


@dataclass(slots=True)
class SbomPackage:
    record: PackageRecord
    scope: str
    declaration: PackageDeclaration


@dataclass(slots=True)
class SbomVulnerability:
    record: VulnerabilityRecord
    suppressed: bool
    url: str | None


@dataclass(slots=True)
class SbomReport:
    """One SBOM, read: ready to become a source report once its entity is known."""

    file: str
    format: str
    tool: str
    reported_at: str | None
    hints: EntityHints
    packages: list[SbomPackage] = field(default_factory=list)
    dependencies: list[PackageDependency] = field(default_factory=list)
    vulnerabilities: list[SbomVulnerability] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def report(self, entity: str, policy: LicensePolicy) -> SourceReport:
        """The source report: the SBOM's facts about ``entity`` and the findings they imply."""
        manifest = Path(self.file).name
        uses = [
            PackageUse(
                ref=entity, package=p.record, requirement=None, scope=p.scope, manifest=manifest
            )
            for p in self.packages
        ]
        return SourceReport(
            source=f"sbom:{self.format}:{entity}",
            findings=[
                *self._vulnerability_findings(entity),
                *self._license_findings(entity, policy),
            ],
            reported_at=self.reported_at,
            facts=SourceFacts(
                packages=uses,
                declarations=[p.declaration for p in self.packages],
                vulnerabilities=[v.record for v in self.vulnerabilities],
                package_dependencies=list(self.dependencies),
            ),
        )

    def _vulnerability_findings(self, entity: str) -> list[ObservedFinding]:
        names = {p.record.purl: p.record for p in self.packages}
        found = []
        for item in self.vulnerabilities:
            vuln = item.record
            package = names[vuln.purl]
            summary = f": {vuln.summary}" if vuln.summary else ""
            found.append(
                ObservedFinding(
                    entity=entity,
                    kind=FindingKind.VULNERABILITY.value,
                    tool=self.tool,
                    rule=vuln.id,
                    fingerprint=f"vulnerability:{vuln.id}:{vuln.purl}",
                    severity=vuln.severity,
                    message=f"{vuln.id} affects {package.name} {package.version or ''}".rstrip()
                    + summary,
                    suppressed=item.suppressed,
                    package=vuln.purl,
                    advisory=vuln.id,
                    help_uri=item.url,
                )
            )
        return found

    def _license_findings(self, entity: str, policy: LicensePolicy) -> list[ObservedFinding]:
        if not policy.configured:
            return []
        found = []
        for package in self.packages:
            statements = package.declaration.licenses
            if not statements:
                continue
            expression = combined(statements)
            judged = verdict(expression, policy)
            if judged is Verdict.ALLOWED:
                continue
            record = package.record
            denied = judged is Verdict.DENIED
            written = expression or " AND ".join(s.raw for s in statements)
            why = (
                "denied by the license policy"
                if denied
                else (
                    "to be reviewed under the license policy"
                    if expression
                    else "not a license the policy can judge: to be reviewed"
                )
            )
            found.append(
                ObservedFinding(
                    entity=entity,
                    kind=FindingKind.LICENSE.value,
                    tool=LICENSE_TOOL,
                    rule="license-denied" if denied else "license-review",
                    fingerprint=f"license:{record.purl}",
                    severity=(Severity.HIGH if denied else Severity.MEDIUM).value,
                    message=f"{record.name} {record.version or ''} is licensed {written}: {why}",
                    package=record.purl,
                )
            )
        return found


def parse_sbom(file: Path, data: Any) -> SbomReport:
    """Read a parsed CycloneDX or SPDX JSON document, whichever it is.

    Raises:
        ReportError: neither format, an unsupported version, or a wrong value (JSON path).
    """
    doc = root(file, data)
    try:
        if data.get("bomFormat") == "CycloneDX":
            return parse_cyclonedx(file, doc)
        if "spdxVersion" in data:
            return parse_spdx(file, doc)
    except (AttributeError, TypeError, KeyError) as exc:
        # Typed reads name the path of almost every wrong value; this is the rest.
        raise doc.fail(f"has a value of the wrong type somewhere ({exc})") from exc
    raise doc.fail('neither CycloneDX ("bomFormat": "CycloneDX") nor SPDX ("spdxVersion")')


# -- packages --------------------------------------------------------------------------------
def package_record(where: Doc, text: str) -> PackageRecord:
    """A package from its purl, named as devgraph names it; qualifiers (``?arch=``) dropped so
    that every source's view of one package version meets on one node."""
    try:
        parsed = PackageURL.from_string(text)
    except ValueError as exc:
        raise where.fail(f"{text!r} is not a package URL: {exc}") from exc
    ecosystem = ECOSYSTEMS.get(parsed.type)
    if ecosystem is not None:
        if ecosystem == "maven":
            name = f"{parsed.namespace}:{parsed.name}" if parsed.namespace else parsed.name
        elif parsed.namespace:
            name = f"{parsed.namespace}/{parsed.name}"
        else:
            name = parsed.name
        name = package_name(ecosystem, name)
        return PackageRecord(purl(ecosystem, name, parsed.version), ecosystem, name, parsed.version)
    plain = PackageURL(
        type=parsed.type, namespace=parsed.namespace, name=parsed.name, version=parsed.version
    )
    name = f"{parsed.namespace}/{parsed.name}" if parsed.namespace else parsed.name
    return PackageRecord(str(plain), parsed.type, name, parsed.version)


def _hash(algorithm: str, value: str) -> str:
    match = _ALGORITHM.match(algorithm.strip())
    name = f"{match[1].upper()}-{match[2].upper()}" if match else algorithm.strip().upper()
    return f"{name}:{value.strip().lower()}"


def _utc(where: Doc, text: str | None) -> str | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise where.fail(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# -- CycloneDX -------------------------------------------------------------------------------
def parse_cyclonedx(file: Path, doc: Doc) -> SbomReport:
    """A CycloneDX 1.4-1.7 JSON BOM."""
    version = doc.text("specVersion", required=True) or ""
    match = _CYCLONEDX_VERSION.match(version)
    if match is None or int(match[1]) < 4:
        raise doc.at("specVersion").fail(f"CycloneDX 1.4 to 1.7 is supported, not {version!r}")
    metadata = doc.obj("metadata")
    report = SbomReport(
        file=str(file),
        format="cyclonedx",
        tool=_cyclonedx_tool(metadata),
        reported_at=_utc(metadata.at("timestamp"), metadata.text("timestamp")),
        hints=_cyclonedx_hints(metadata.obj("component")),
    )
    by_ref: dict[str, PackageRecord] = {}
    seen: set[str] = set()
    for component in _components(doc):
        purl_text = component.text("purl")
        name = component.text("name", required=True)
        if not purl_text:
            report.warnings.append(f"{file}: {component.path}: {name} has no purl; not loaded")
            continue
        record = package_record(component.at("purl"), purl_text)
        ref = component.text("bom-ref")
        if ref:
            by_ref[ref] = record
        if record.purl in seen:
            continue
        seen.add(record.purl)
        report.packages.append(
            SbomPackage(
                record=record,
                scope=component.text("scope") or "required",
                declaration=PackageDeclaration(
                    purl=record.purl,
                    licenses=_cyclonedx_licenses(component),
                    hashes=sorted(
                        _hash(
                            h.text("alg", required=True) or "",
                            h.text("content", required=True) or "",
                        )
                        for h in component.items("hashes")
                    ),
                ),
            )
        )
    for entry in doc.items("dependencies"):
        source = by_ref.get(entry.text("ref", required=True) or "")
        if source is None:
            continue
        for target in entry.items("dependsOn"):
            found = by_ref.get(target.value) if isinstance(target.value, str) else None
            if found is not None:
                report.dependencies.append(PackageDependency(source.purl, found.purl))
    for vulnerability in doc.items("vulnerabilities"):
        report.vulnerabilities.extend(_cyclonedx_vulnerability(vulnerability, by_ref))
    return report


def _components(doc: Doc) -> list[Doc]:
    """Every component, nested ones included (an assembly lists its parts inside it)."""
    found: list[Doc] = []
    queue = doc.items("components")
    while queue:
        component = queue.pop(0)
        if not isinstance(component.value, dict):
            raise component.fail("must be an object")
        found.append(component)
        queue.extend(component.items("components"))
    return found


def _cyclonedx_tool(metadata: Doc) -> str:
    tools = metadata.at("tools").value
    # 1.4 lists tools; 1.5+ has {components: [...], services: [...]}.
    listed = tools.get("components", []) if isinstance(tools, dict) else tools or []
    for tool in listed:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            return tool["name"]
    return "cyclonedx"


def _cyclonedx_hints(component: Doc) -> EntityHints:
    hints = EntityHints()
    name = component.text("name")
    if name:
        hints.names.append(name)
    for reference in component.items("externalReferences"):
        if reference.text("type") == "vcs" and reference.text("url"):
            hints.repositories.append(reference.text("url") or "")
    return hints


def _cyclonedx_licenses(component: Doc) -> list[LicenseStatement]:
    statements = []
    for choice in component.items("licenses"):
        expression = choice.text("expression")
        if expression:
            statements.append(statement(expression))
            continue
        license_doc = choice.obj("license")
        raw = license_doc.text("id") or license_doc.text("name")
        if raw:
            statements.append(statement(raw))
    return statements


def _cyclonedx_vulnerability(
    vulnerability: Doc, by_ref: dict[str, PackageRecord]
) -> list[SbomVulnerability]:
    vuln_id = vulnerability.text("id", required=True) or ""
    state = vulnerability.obj("analysis").text("state")
    if state == "resolved":
        return []
    severity, score = _rating(vulnerability)
    aliases = sorted(
        {r.text("id") or "" for r in vulnerability.items("references")} - {"", vuln_id}
    )
    summary = vulnerability.text("description") or vulnerability.text("detail")
    url = vulnerability.obj("source").text("url")
    found = []
    for affect in vulnerability.items("affects"):
        package = by_ref.get(affect.text("ref", required=True) or "")
        if package is None:
            continue
        found.append(
            SbomVulnerability(
                record=VulnerabilityRecord(
                    id=vuln_id,
                    purl=package.purl,
                    aliases=aliases,
                    summary=first_line(summary),
                    severity=severity.value,
                    score=score,
                ),
                suppressed=state in _NOT_EXPOSED,
                url=url,
            )
        )
    return found


def _rating(vulnerability: Doc) -> tuple[Severity, float | None]:
    """The worst of the ratings: by score where one is given, else by its severity word."""
    worst: tuple[Severity, float | None] | None = None
    for rating in vulnerability.items("ratings"):
        score = rating.number("score")
        severity = (
            severity_from_score(score)
            if score is not None
            else (severity_from_word(rating.text("severity")))
        )
        if severity is not None and (worst is None or severity.rank > worst[0].rank):
            worst = (severity, score)
    # An advisory that rates nothing is still a known vulnerability: not INFO, not guessed high.
    return worst or (Severity.MEDIUM, None)


# -- SPDX ------------------------------------------------------------------------------------
def parse_spdx(file: Path, doc: Doc) -> SbomReport:
    """An SPDX 2.2/2.3 JSON document; the packages it describes are its subject."""
    version = doc.text("spdxVersion", required=True)
    if version not in _SPDX_VERSIONS:
        raise doc.at("spdxVersion").fail(f"SPDX 2.2 or 2.3 JSON is supported, not {version!r}")
    creation = doc.obj("creationInfo")
    tool = next(
        (
            c.removeprefix("Tool:").strip()
            for c in creation.value.get("creators") or []
            if isinstance(c, str) and c.startswith("Tool:")
        ),
        "spdx",
    )
    described = {d for d in doc.value.get("documentDescribes") or [] if isinstance(d, str)}
    relationships = doc.items("relationships")
    for relation in relationships:
        if relation.text("relationshipType") == "DESCRIBES":
            described.add(relation.text("relatedSpdxElement") or "")
    report = SbomReport(
        file=str(file),
        format="spdx",
        tool=tool,
        reported_at=_utc(creation.at("created"), creation.text("created")),
        hints=EntityHints(names=[doc.text("name") or ""]),
    )
    by_id: dict[str, PackageRecord] = {}
    seen: set[str] = set()
    for package in doc.items("packages"):
        if not isinstance(package.value, dict):
            raise package.fail("must be an object")
        spdx_id = package.text("SPDXID", required=True) or ""
        name = package.text("name", required=True) or ""
        if spdx_id in described:
            report.hints.names.append(name)
            location = package.text("downloadLocation") or ""
            if location not in _NO_LICENSE:
                report.hints.repositories.append(location.removeprefix("git+"))
            continue
        purl_text = _spdx_purl(package)
        if purl_text is None:
            report.warnings.append(f"{file}: {package.path}: {name} has no purl; not loaded")
            continue
        record = package_record(package, purl_text)
        by_id[spdx_id] = record
        if record.purl in seen:
            continue
        seen.add(record.purl)
        concluded = package.text("licenseConcluded") or ""
        declared = package.text("licenseDeclared") or ""
        raw = concluded if concluded not in _NO_LICENSE else declared
        report.packages.append(
            SbomPackage(
                record=record,
                scope="required",
                declaration=PackageDeclaration(
                    purl=record.purl,
                    licenses=[statement(raw)] if raw not in _NO_LICENSE else [],
                    hashes=sorted(
                        _hash(
                            c.text("algorithm", required=True) or "",
                            c.text("checksumValue", required=True) or "",
                        )
                        for c in package.items("checksums")
                    ),
                ),
            )
        )
    for relation in relationships:
        kind = relation.text("relationshipType")
        a = by_id.get(relation.text("spdxElementId") or "")
        b = by_id.get(relation.text("relatedSpdxElement") or "")
        if a is None or b is None:
            continue
        if kind == "DEPENDS_ON":
            report.dependencies.append(PackageDependency(a.purl, b.purl))
        elif kind == "DEPENDENCY_OF":
            report.dependencies.append(PackageDependency(b.purl, a.purl))
    return report


def _spdx_purl(package: Doc) -> str | None:
    for reference in package.items("externalRefs"):
        category = (reference.text("referenceCategory") or "").replace("_", "-")
        if category == "PACKAGE-MANAGER" and reference.text("referenceType") == "purl":
            return reference.text("referenceLocator")
    return None
