"""SARIF from real scanners (bandit, semgrep) run on a code tree the test writes, and the SARIF
rules every producer must be read by: defaults, extensions, security-severity, suppressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _findings import (
    BILLING,
    SHOP,
    bandit_sarif,
    load_estate,
    semgrep_sarif,
    write_code,
    write_json,
)

from graph_api.store import FindingFilter, GraphStore
from graph_api.store.embedded import EmbeddedStore
from loaders.findings.load import load_sarif
from loaders.findings.sarif import parse_sarif


@pytest.fixture
async def estate(embedded: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    await load_estate(embedded, tmp_path / "catalog")
    return embedded


async def open_findings(store: GraphStore, source_prefix: str = "") -> list[Any]:
    found, _ = await store.find_findings(FindingFilter(statuses=["OPEN"]), 0, 1000)
    return [f for f in found if f.source.startswith(source_prefix)]


async def test_bandit_rescan_after_a_fix_resolves_it_and_moving_code_keeps_the_rest(
    estate: EmbeddedStore, tmp_path: Path
) -> None:
    code = write_code(tmp_path / "code")
    first = bandit_sarif(code, tmp_path / "bandit-1.sarif")
    (outcome,) = await load_sarif(estate, [first], entity="shop")
    assert outcome.ok, outcome.error
    (report,) = outcome.reports
    assert report.source == f"sarif:{SHOP}:bandit"
    found = {f.rule: f for f in await open_findings(estate)}
    # B602 subprocess shell=True (HIGH), B307 eval (MEDIUM), B301 pickle, B403/B404 imports.
    assert {"B602", "B307", "B301", "B404", "B403"} <= set(found)
    assert found["B602"].severity == "HIGH" and found["B602"].file == "app/run.py"
    assert found["B404"].severity == "LOW"  # bandit's level "note"
    eval_line = found["B307"].line

    # The same report again writes nothing.
    writes = estate.writes
    (again,) = await load_sarif(estate, [first], entity="shop")
    assert again.reports[0].unchanged and estate.writes == writes

    # Fix the eval, push everything down three lines, and scan again.
    run = code / "app/run.py"
    fixed = run.read_text().replace("return eval(text)", "return int(text)")
    run.write_text("# header\n# moved\n\n" + fixed)
    second = bandit_sarif(code, tmp_path / "bandit-2.sarif")
    (outcome,) = await load_sarif(estate, [second], entity="shop")
    (report,) = outcome.reports
    assert (report.opened, report.resolved) == (0, 1)
    after = {f.rule: f for f in await estate.source_findings(report.source)}
    assert after["B307"].status == "RESOLVED" and after["B307"].resolved_at
    assert after["B602"].status == "OPEN" and after["B602"].id == found["B602"].id
    assert after["B602"].line == found["B602"].line + 3
    assert after["B602"].first_seen == found["B602"].first_seen
    assert eval_line is not None


async def test_semgrep_local_rules_offline(estate: EmbeddedStore, tmp_path: Path) -> None:
    code = write_code(tmp_path / "code")
    sarif = semgrep_sarif(code, tmp_path / "semgrep.sarif")
    data = json.loads(sarif.read_text())
    # Semgrep writes the same placeholder fingerprint on every result when logged out.
    placeholders = {
        r.get("fingerprints", {}).get("matchBasedId/v1") for r in data["runs"][0]["results"]
    }
    (outcome,) = await load_sarif(estate, [sarif], entity="billing")
    assert outcome.ok, outcome.error
    found = {f.rule: f for f in await open_findings(estate, "sarif:")}
    assert set(found) == {"no-eval", "pickle-loads"}, placeholders
    # Results carry no level: each takes its rule's defaultConfiguration.level.
    assert found["no-eval"].severity == "HIGH" and found["pickle-loads"].severity == "MEDIUM"
    assert found["no-eval"].entity == BILLING
    assert len({f.fingerprint for f in found.values()}) == 2


def log(runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": runs,
        **extra,
    }


def result(rule_id: str, **values: Any) -> dict[str, Any]:
    return {
        "ruleId": rule_id,
        "message": {"text": f"{rule_id} found"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": "src/main.js", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 10, "snippet": {"text": f"call({rule_id})"}},
                }
            }
        ],
        **values,
    }


CODEQL_RUN = {
    "tool": {
        "driver": {"name": "CodeQL", "semanticVersion": "2.17.0", "rules": []},
        "extensions": [
            {
                "name": "codeql/javascript-queries",
                "rules": [
                    {"id": "js/sql-injection", "properties": {"security-severity": "8.8"}},
                    {"id": "js/xss", "properties": {"security-severity": "9.6"}},
                    {"id": "js/unused", "defaultConfiguration": {"level": "note"}},
                    {"id": "js/weak-hash", "properties": {"security-severity": "3.1"}},
                ],
            }
        ],
    },
    "automationDetails": {"id": "javascript/run-2024-05-01"},
    "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/shop.git"}],
    "invocations": [{"executionSuccessful": True, "endTimeUtc": "2024-05-01T10:00:00Z"}],
    "results": [
        result(
            "js/sql-injection",
            rule={"id": "js/sql-injection", "index": 0, "toolComponent": {"index": 0}},
            partialFingerprints={"primaryLocationLineHash": "aa11:1"},
        ),
        result(
            "js/xss",
            ruleIndex=1,
            partialFingerprints={"primaryLocationLineHash": "bb22:1"},
            rule={"id": "js/xss", "index": 1, "toolComponent": {"index": 0}},
        ),
        result("js/unused", partialFingerprints={"primaryLocationLineHash": "cc33:1"}),
        result(
            "js/weak-hash",
            level="error",
            partialFingerprints={"primaryLocationLineHash": "dd44:1"},
            suppressions=[{"kind": "inSource", "status": "accepted"}],
        ),
        result(
            "js/unknown",
            partialFingerprints={"primaryLocationLineHash": "ee55:1"},
            suppressions=[{"kind": "external", "status": "underReview"}],
        ),
        result("js/passed", kind="pass"),
        result("js/none", level="none", partialFingerprints={"primaryLocationLineHash": "ff66:1"}),
    ],
}


async def test_severity_levels_extensions_and_suppressions(
    estate: EmbeddedStore, tmp_path: Path
) -> None:
    sarif = write_json(tmp_path / "codeql.sarif", log([CODEQL_RUN]))
    # No --entity: the repository in versionControlProvenance names acme/shop.
    (outcome,) = await load_sarif(estate, [sarif])
    assert outcome.ok, outcome.error
    assert outcome.entity == SHOP
    (report,) = outcome.reports
    assert report.source == f"sarif:{SHOP}:codeql:javascript"
    stored = {f.rule: f for f in await estate.source_findings(report.source)}
    assert {rule: (f.severity, f.status) for rule, f in stored.items()} == {
        "js/sql-injection": ("HIGH", "OPEN"),  # security-severity 8.8
        "js/xss": ("CRITICAL", "OPEN"),  # 9.6
        "js/unused": ("LOW", "OPEN"),  # no level: the rule's default, note
        "js/weak-hash": ("LOW", "SUPPRESSED"),  # 3.1 wins over level error; kept, suppressed
        "js/unknown": ("MEDIUM", "OPEN"),  # no rule, no level: warning; under review
        "js/none": ("INFO", "OPEN"),
    }
    assert stored["js/xss"].last_seen.startswith("2024-05-01T10:00:00")


async def test_runs_are_sources_per_tool_and_category(
    estate: EmbeddedStore, tmp_path: Path
) -> None:
    python = json.loads(json.dumps(CODEQL_RUN))
    python["automationDetails"] = {"id": "python/run-2024-05-01"}
    python["results"] = [result("py/sql-injection")]
    sarif = write_json(tmp_path / "codeql.sarif", log([CODEQL_RUN, python]))
    (outcome,) = await load_sarif(estate, [sarif], entity="shop")
    assert [r.source for r in outcome.reports] == [
        f"sarif:{SHOP}:codeql:javascript",
        f"sarif:{SHOP}:codeql:python",
    ]
    # A newer javascript-only report resolves nothing of python's.
    newer = json.loads(json.dumps(CODEQL_RUN))
    newer["invocations"][0]["endTimeUtc"] = "2024-06-01T10:00:00Z"
    newer["results"] = []
    (outcome,) = await load_sarif(
        estate, [write_json(tmp_path / "n.sarif", log([newer]))], entity="shop"
    )
    assert outcome.reports[0].resolved == 6
    open_now = {f.rule for f in await open_findings(estate)}
    assert open_now == {"py/sql-injection"}
    # An older report than the one loaded last is refused rather than resolving newer work.
    (outcome,) = await load_sarif(estate, [sarif], entity="shop")
    assert not outcome.ok and "older than the one loaded last" in (outcome.error or "")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"version": "2.1.0", "runs": [', "line 1 column 31"),
        ('{"version": "2.0.0", "runs": []}', "$.version: SARIF 2.1.0 is supported"),
        (
            '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal"}]}]}',
            "$.runs[0].results[0]: level 'fatal' is not a SARIF level",
        ),
        (
            '{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}',
            "$.runs[0].tool.driver.name: is required",
        ),
        (
            (
                '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": '
                '[{"id": "r", "properties": {"security-severity": "high"}}]}}}]}'
            ),
            "$.runs[0].tool.driver.rules[0].properties.security-severity: 'high' is not a number",
        ),
    ],
)
async def test_bad_input_names_the_place_and_keeps_previous_findings(
    estate: EmbeddedStore, tmp_path: Path, text: str, where: str
) -> None:
    good = write_json(tmp_path / "good.sarif", log([CODEQL_RUN]))
    await load_sarif(estate, [good], entity="shop")
    before = await estate.source_findings(f"sarif:{SHOP}:codeql:javascript")
    writes = estate.writes
    bad = tmp_path / "bad.sarif"
    bad.write_text(text, encoding="utf-8")
    (outcome,) = await load_sarif(estate, [bad], entity="shop")
    assert outcome.error is not None and outcome.error.startswith(f"{bad}: {where}")
    assert estate.writes == writes
    assert await estate.source_findings(f"sarif:{SHOP}:codeql:javascript") == before


async def test_an_unmatched_report_asks_for_entity(estate: EmbeddedStore, tmp_path: Path) -> None:
    run = {
        "tool": {"driver": {"name": "Trivy"}},
        "results": [result("CVE-1")],
        "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/nothing"}],
    }
    sarif = write_json(tmp_path / "trivy.sarif", log([run]))
    (outcome,) = await load_sarif(estate, [sarif])
    assert "pass --entity" in (outcome.error or "")
    (outcome,) = await load_sarif(estate, [sarif], entity="nothing")
    assert "no such entity" in (outcome.error or "")
    # billing is found from its source-location annotation.
    run["versionControlProvenance"] = [{"repositoryUri": "git@github.com:acme/billing.git"}]
    (outcome,) = await load_sarif(estate, [write_json(tmp_path / "t2.sarif", log([run]))])
    assert outcome.entity == BILLING


def test_identical_code_twice_in_a_file_gives_two_findings(tmp_path: Path) -> None:
    twice = [result("r"), result("r")]
    twice[1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 20
    report = parse_sarif(
        tmp_path / "x.sarif", log([{"tool": {"driver": {"name": "t"}}, "results": twice}])
    )
    (source,) = report.reports(SHOP)
    assert len({f.fingerprint for f in source.findings}) == 2
