"""Findings as code-scanning users know them: severities, statuses, kinds and fingerprints.

A finding is what a scanner, an SBOM's vulnerability section, an advisory matched to a package
in use, or the license policy says about one entity. It is identified by a fingerprint that
survives re-scans, so a newer report updates it and one missing from a newer report of the same
source becomes resolved.
"""

from __future__ import annotations

import hashlib
import re
from enum import Enum


class Severity(str, Enum):
    """Worst first; ``rank`` orders them (CRITICAL 5 ... INFO 1)."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
}
SEVERITIES = tuple(Severity)


class FindingStatus(str, Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    SUPPRESSED = "SUPPRESSED"


class FindingKind(str, Enum):
    """CODE: a static-analysis result (SARIF). VULNERABILITY: a known advisory affecting a
    package in use. LICENSE: a package license the policy denies or wants reviewed."""

    CODE = "CODE"
    VULNERABILITY = "VULNERABILITY"
    LICENSE = "LICENSE"


# SARIF's own level words; a level the spec does not know is treated as its default, warning.
_LEVEL_SEVERITY = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}
# Words advisories and SBOM ratings use (GHSA's "moderate", CycloneDX's "info"/"none").
_WORD_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
}


def severity_from_score(score: float) -> Severity:
    """The code-scanning mapping of a CVSS-like 0-10 score.

    Example:
        >>> severity_from_score(7.5).value
        'HIGH'
    """
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0:
        return Severity.LOW
    return Severity.INFO


def severity_from_level(level: str) -> Severity:
    """SARIF ``level`` to severity: error HIGH, warning MEDIUM, note LOW, none INFO."""
    return _LEVEL_SEVERITY.get(level, Severity.MEDIUM)


def severity_from_word(word: str | None) -> Severity | None:
    """An advisory's or rating's severity word, or None when it is not one we know."""
    if not word:
        return None
    return _WORD_SEVERITY.get(word.strip().lower())


_SPACES = re.compile(r"\s+")
_NUMBERS = re.compile(r"\d+")


def normalise_snippet(text: str) -> str:
    """Code with indentation and spacing removed: re-indenting or moving code keeps it."""
    return _SPACES.sub(" ", text).strip()


def normalise_message(text: str) -> str:
    """A message with numbers masked: messages often quote the line they were found on."""
    return _NUMBERS.sub("#", normalise_snippet(text).lower())


def digest(*parts: str) -> str:
    """A short, stable hash of text parts (for fingerprints and finding ids)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def finding_id(source: str, entity: str, fingerprint: str) -> str:
    """The stored key of a finding: one per source, entity and fingerprint."""
    return digest(source, entity, fingerprint)


_LICENSE_TOKENS = re.compile(r"[()\s]+")


def spdx_ids(expression: str | None) -> list[str]:
    """The license ids an SPDX expression names (exceptions after WITH are not licenses).

    Example:
        >>> spdx_ids("(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0")
        ['Apache-2.0', 'GPL-2.0-only', 'MIT']
    """
    tokens = [t for t in _LICENSE_TOKENS.split(expression or "") if t]
    found = {
        token
        for index, token in enumerate(tokens)
        if token.upper() not in ("AND", "OR", "WITH")
        and (index == 0 or tokens[index - 1].upper() != "WITH")
    }
    return sorted(found)
