"""Each ecosystem's version order and OSV range evaluation; PyPI cases agree with packaging."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from graph_api.settings import LicensePolicy
from loaders.findings.licenses import Verdict, combined, spdx_expression, statement, verdict
from loaders.findings.versions import AffectedMatcher, MavenVersion, semantic


def affected(*events: dict[str, str], kind: str = "ECOSYSTEM", versions: list[str] = ()) -> Any:  # type: ignore[assignment]
    return {"ranges": [{"type": kind, "events": list(events)}], "versions": list(versions)}


# Maven's own ComparableVersionTest sequences, each strictly increasing.
MAVEN_QUALIFIERS = [
    "1-alpha2snapshot",
    "1-alpha2",
    "1-alpha-123",
    "1-beta-2",
    "1-beta123",
    "1-m2",
    "1-m11",
    "1-rc",
    "1-cr2",
    "1-rc123",
    "1-SNAPSHOT",
    "1",
    "1-sp",
    "1-sp2",
    "1-sp123",
    "1-abc",
    "1-def",
    "1-pom-1",
    "1-1-snapshot",
    "1-1",
    "1-2",
    "1-123",
]
MAVEN_NUMBERS = [
    "2.0",
    "2-1",
    "2.0.a",
    "2.0.0.a",
    "2.0.2",
    "2.0.123",
    "2.1.0",
    "2.1-a",
    "2.1b",
    "2.1-c",
    "2.1-1",
    "2.1.0.1",
    "2.2",
    "2.123",
    "11.a2",
    "11.a11",
    "11.b2",
    "11.b11",
    "11.m2",
    "11.m11",
    "11",
    "11.a",
    "11b",
    "11c",
    "11m",
]


@pytest.mark.parametrize("sequence", [MAVEN_QUALIFIERS, MAVEN_NUMBERS])
def test_maven_order(sequence: list[str]) -> None:
    for lower, higher in pairwise(sequence):
        assert MavenVersion(lower) < MavenVersion(higher), (lower, higher)


def test_maven_equal_spellings() -> None:
    for a, b in [
        ("1", "1.0.0"),
        ("1-ga", "1"),
        ("1.0-final", "1"),
        ("1-a1", "1-alpha-1"),
        ("1-cr", "1-rc"),
    ]:
        assert MavenVersion(a) == MavenVersion(b)


def test_log4j_ranges_in_maven_order() -> None:
    # GHSA-jfh8-c2jp-5v3q: introduced 2.13.0, fixed 2.15.0 (and 2.0-beta9 .. 2.12.2).
    matcher = AffectedMatcher(
        {
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [
                        {"introduced": "2.13.0"},
                        {"fixed": "2.15.0"},
                        {"introduced": "2.0-beta9"},
                        {"fixed": "2.12.2"},
                    ],
                }
            ]
        },
        "Maven",
    )
    assert matcher.matches("2.14.1") and matcher.matches("2.0") and matcher.matches("2.15.0-rc1")
    assert not matcher.matches("2.15.0") and not matcher.matches("2.12.2")
    assert not matcher.matches("2.0-alpha1") and not matcher.matches("2.12.4")


def test_semver_ecosystems() -> None:
    npm = AffectedMatcher(affected({"introduced": "0"}, {"fixed": "4.17.21"}, kind="SEMVER"), "npm")
    assert npm.matches("4.17.20") and npm.matches("4.17.21-beta.1")
    assert not npm.matches("4.17.21") and not npm.matches("not-a-version")
    # Go: tags carry a v; +incompatible is build metadata, which SemVer ignores.
    go = AffectedMatcher(affected({"introduced": "1.2.0"}, {"last_affected": "1.4.1"}), "Go")
    assert go.matches("v1.4.1") and go.matches("v1.3.0+incompatible") and not go.matches("v1.4.2")
    assert semantic("v2.0.0-20240101000000-abcdef123456") < semantic("v2.0.0")
    cargo = AffectedMatcher(affected({"introduced": "0.1.0"}, {"fixed": "0.10"}), "crates.io")
    assert cargo.matches("0.9.5") and not cargo.matches("0.10.0")


def test_events_out_of_order_last_affected_prereleases_and_lists() -> None:
    ranges = affected(
        {"fixed": "5.2b1"},
        {"last_affected": "1.4"},
        {"introduced": "5.0"},
        {"introduced": "1.0"},
        versions=["0.5"],
    )
    pypi = AffectedMatcher(ranges, "PyPI")
    assert [
        v
        for v in ["0.5", "0.9", "1.0", "1.4", "1.4.1", "5.0", "5.2a3", "5.2b1", "5.2"]
        if pypi.matches(v)
    ] == ["0.5", "1.0", "1.4", "5.0", "5.2a3"]
    assert not pypi.matches(None) and not AffectedMatcher(ranges, "Debian:11").matches("1.0")
    # GIT ranges name commits, not versions: only the explicit list counts.
    git = AffectedMatcher(affected({"introduced": "abc"}, kind="GIT", versions=["1.1"]), "PyPI")
    assert git.matches("1.1") and not git.matches("1.2")


RELEASES = st.builds(
    lambda major, minor, patch, pre: f"{major}.{minor}.{patch}{pre}",
    st.integers(0, 3),
    st.integers(0, 12),
    st.integers(0, 12),
    st.sampled_from(["", "", "a1", "b2", "rc1", ".post1", ".dev3"]),
)


@settings(max_examples=300, deadline=None)
@given(version=RELEASES, introduced=RELEASES, fixed=RELEASES, last=RELEASES)
def test_pypi_ranges_agree_with_packaging(
    version: str, introduced: str, fixed: str, last: str
) -> None:
    """Events given in any order decide what PEP 440 order (packaging) decides: a window
    [introduced, fixed) or [introduced, last_affected]; a fix at or before the introduction
    closes nothing after it (OSV's evaluation)."""
    v, start, end, last_v = map(Version, (version, introduced, fixed, last))
    by_fix = AffectedMatcher(affected({"fixed": fixed}, {"introduced": introduced}), "PyPI")
    if start < end:
        expected = SpecifierSet(f">={introduced}").contains(v, prereleases=True) and v < end
    else:
        # A fix at the introduction closes the window at once; one before it closes nothing.
        expected = start > end and start <= v
    assert by_fix.matches(version) == expected
    by_last = AffectedMatcher(affected({"last_affected": last}, {"introduced": introduced}), "PyPI")
    assert by_last.matches(version) == (start <= v and (v <= last_v or last_v < start))


def test_license_normalisation_is_only_certain() -> None:
    assert spdx_expression("mit") == "MIT"
    assert spdx_expression("GPL-2.0+") == "GPL-2.0-or-later"  # deprecated id, SPDX's meaning
    assert spdx_expression("(MIT OR apache-2.0)") == "MIT OR Apache-2.0"
    assert spdx_expression("Apache License, Version 2.0") == "Apache-2.0"
    assert spdx_expression("License :: OSI Approved :: MIT License") == "MIT"
    assert spdx_expression("LicenseRef-acme-internal") == "LicenseRef-acme-internal"
    for unknown in [
        "BSD",
        "License :: OSI Approved :: BSD License",
        "GPLv3",
        "License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
        "MIT/Apache-2.0",
        "Apache Software License",
        "",
    ]:
        assert spdx_expression(unknown) is None, unknown
    assert (
        combined([statement("MIT"), statement("Apache-2.0 OR MIT")])
        == "MIT AND (Apache-2.0 OR MIT)"
    )
    assert combined([statement("MIT"), statement("BSD")]) is None


def test_license_policy() -> None:
    policy = LicensePolicy(
        allowed=["MIT", "Apache-2.0"], denied=["GPL-3.0-only"], review=["LGPL-2.1-only"]
    )
    assert verdict("MIT OR GPL-3.0-only", policy) is Verdict.ALLOWED
    assert verdict("MIT AND GPL-3.0-only", policy) is Verdict.DENIED
    assert verdict("LGPL-2.1-only OR GPL-3.0-only", policy) is Verdict.REVIEW
    assert verdict("BSD-3-Clause", policy) is Verdict.REVIEW  # not on the allow list
    assert verdict(None, policy) is Verdict.REVIEW
    assert verdict("BSD-3-Clause", LicensePolicy(denied=["GPL-3.0-only"])) is Verdict.ALLOWED
    with_exception = "GPL-2.0-only WITH Classpath-exception-2.0"
    assert verdict(with_exception, LicensePolicy(allowed=[with_exception])) is Verdict.ALLOWED
    assert verdict(with_exception, LicensePolicy(denied=["GPL-2.0-only"])) is Verdict.DENIED
