"""Whatever JSON a report holds, the parsers answer with a located ReportError or a result:
never another exception (a traceback instead of "file: where: why")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.findings._report import ReportError
from loaders.findings.osv import parse_osv
from loaders.findings.sarif import parse_sarif
from loaders.findings.sbom import parse_sbom

FILE = Path("fuzz.json")
WORDS = st.sampled_from(
    [
        "id",
        "name",
        "purl",
        "ref",
        "ruleId",
        "level",
        "error",
        "rules",
        "results",
        "locations",
        "version",
        "licenses",
        "license",
        "expression",
        "events",
        "introduced",
        "fixed",
        "0",
        "pkg:pypi/a@1",
        "SEMVER",
        "ECOSYSTEM",
        "PyPI",
        "1.0",
        "ranges",
        "package",
        "ecosystem",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=4),
    max_leaves=12,
)


def survives(parse: Any, data: Any) -> None:
    try:
        parse(FILE, data)
    except ReportError as exc:
        assert str(exc).startswith(f"{FILE}: ")


@settings(max_examples=150, deadline=None)
@given(runs=JSON, results=JSON, rules=JSON)
def test_sarif(runs: Any, results: Any, rules: Any) -> None:
    survives(parse_sarif, {"version": "2.1.0", "runs": runs})
    run = {"tool": {"driver": {"name": "t", "rules": rules}}, "results": results}
    survives(parse_sarif, {"version": "2.1.0", "runs": [run]})


@settings(max_examples=150, deadline=None)
@given(components=JSON, dependencies=JSON, vulnerabilities=JSON, packages=JSON)
def test_sboms(components: Any, dependencies: Any, vulnerabilities: Any, packages: Any) -> None:
    survives(
        parse_sbom,
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "components": components,
            "dependencies": dependencies,
            "vulnerabilities": vulnerabilities,
        },
    )
    survives(
        parse_sbom, {"spdxVersion": "SPDX-2.3", "packages": packages, "relationships": dependencies}
    )


@settings(max_examples=150, deadline=None)
@given(affected=JSON, severity=JSON)
def test_osv(affected: Any, severity: Any) -> None:
    survives(parse_osv, {"id": "GHSA-1", "affected": affected, "severity": severity})
    survives(parse_osv, {"results": [{"packages": [{"vulnerabilities": affected}]}]})
