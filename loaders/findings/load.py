"""The findings loaders' pipeline: read a report, find its entity, apply it as its source(s).

Each file is read and checked whole before anything is written: a file that fails says why and
where, and leaves every finding from earlier loads as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_api.findings import FindingsError, FindingsReport, apply_report
from graph_api.settings import LicensePolicy
from graph_api.store import GraphStore
from loaders import collector_paused
from loaders.findings._report import EntityNotFound, ReportError, read_json, resolve_entity
from loaders.findings.osv import osv_report, read_advisories
from loaders.findings.sarif import parse_sarif
from loaders.findings.sbom import parse_sbom


@dataclass(slots=True)
class FileOutcome:
    """What loading one file did: a report per source it fed, or why it was not loaded."""

    file: str
    entity: str | None = None
    reports: list[FindingsReport] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "entity": self.entity,
            "error": self.error,
            "warnings": list(self.warnings),
            "sources": [r.summary() for r in self.reports],
        }


async def load_sarif(
    store: GraphStore, paths: Sequence[Path], *, entity: str | None = None, actor: str = "system"
) -> list[FileOutcome]:
    """Load SARIF files; each run's tool (and category) is a source per entity."""
    outcomes = []
    for path in paths:
        outcome = FileOutcome(file=str(path))
        try:
            with collector_paused():
                sarif = parse_sarif(path, read_json(path))
                outcome.entity = await resolve_entity(store, path, entity, sarif.hints)
                for report in sarif.reports(outcome.entity):
                    outcome.reports.append(
                        await apply_report(store, report, actor=actor, action="load sarif")
                    )
        except (ReportError, EntityNotFound, FindingsError) as exc:
            outcome.error = str(exc)
        outcomes.append(outcome)
    return outcomes


async def load_sbom(
    store: GraphStore,
    paths: Sequence[Path],
    *,
    expected: str,
    policy: LicensePolicy,
    entity: str | None = None,
    actor: str = "system",
) -> list[FileOutcome]:
    """Load CycloneDX or SPDX files (``expected`` names the format the command was given)."""
    outcomes = []
    for path in paths:
        outcome = FileOutcome(file=str(path))
        try:
            with collector_paused():
                sbom = parse_sbom(path, read_json(path))
                if sbom.format != expected:
                    raise ReportError(path, "", f"this is a {sbom.format} document, not {expected}")
                outcome.warnings = list(sbom.warnings)
                outcome.entity = await resolve_entity(store, path, entity, sbom.hints)
                report = sbom.report(outcome.entity, policy)
                outcome.reports.append(
                    await apply_report(store, report, actor=actor, action=f"load {expected}")
                )
        except (ReportError, EntityNotFound, FindingsError) as exc:
            outcome.error = str(exc)
        outcomes.append(outcome)
    return outcomes


async def load_osv(
    store: GraphStore, paths: Sequence[Path], *, actor: str = "system"
) -> list[FileOutcome]:
    """Load OSV records from files or folders; each argument is one source."""
    outcomes = []
    for path in paths:
        outcome = FileOutcome(file=str(path))
        try:
            with collector_paused():
                advisories = read_advisories(path)
                report = await osv_report(store, f"osv:{path.resolve()}", advisories)
                outcome.reports.append(
                    await apply_report(store, report, actor=actor, action="load osv")
                )
        except (ReportError, FindingsError) as exc:
            outcome.error = str(exc)
        outcomes.append(outcome)
    return outcomes
