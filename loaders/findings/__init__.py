"""Findings and dependency health: SARIF reports, SBOMs (CycloneDX, SPDX) and OSV advisories."""

from loaders.findings.load import FileOutcome, load_osv, load_sarif, load_sbom

__all__ = ["FileOutcome", "load_osv", "load_sarif", "load_sbom"]
