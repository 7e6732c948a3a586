"""``devgraph load sarif|cyclonedx|spdx|osv`` and ``devgraph findings`` against a store folder."""

from __future__ import annotations

import json
from pathlib import Path

from _findings import ESTATE, SHOP, TEAM_A, TEAM_B, osv_record, write_json
from typer.testing import CliRunner

from devgraph.cli import app

runner = CliRunner()

SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "Semgrep OSS",
                    "rules": [{"id": "no-eval", "defaultConfiguration": {"level": "error"}}],
                }
            },
            "results": [
                {
                    "ruleId": "no-eval",
                    "message": {"text": "eval() runs arbitrary code"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "app/run.py"},
                                "region": {"startLine": 9},
                            }
                        }
                    ],
                }
            ],
        }
    ],
}
CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {"component": {"type": "application", "name": "billing"}},
    "components": [
        {
            "type": "library",
            "name": "lodash",
            "version": "4.17.20",
            "purl": "pkg:npm/lodash@4.17.20",
            "licenses": [{"license": {"id": "MIT"}}],
        }
    ],
}


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_load_reports_and_list_open_findings_per_team(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "catalog-info.yaml").write_text(ESTATE, encoding="utf-8")
    assert invoke("load", "files", str(tmp_path / "catalog"), "--store", store).exit_code == 0

    sarif = write_json(tmp_path / "semgrep.sarif", SARIF)
    loaded = invoke("load", "sarif", str(sarif), "--entity", "shop", "--store", store, "--json")
    assert loaded.exit_code == 0, loaded.output
    (summary,) = json.loads(loaded.output)
    assert summary["entity"] == SHOP and summary["sources"][0]["opened"] == 1
    sbom = write_json(tmp_path / "bom.json", CYCLONEDX)
    assert invoke("load", "cyclonedx", str(sbom), "--store", store).exit_code == 0
    record = osv_record(
        "GHSA-35jh-r3h4-6jhm",
        "npm",
        "lodash",
        [{"introduced": "0"}, {"fixed": "4.17.21"}],
        range_type="SEMVER",
        vector=None,
    )
    advisories = write_json(tmp_path / "osv" / "GHSA-35jh-r3h4-6jhm.json", record)
    assert invoke("load", "osv", str(advisories.parent), "--store", store).exit_code == 0

    listed = invoke("findings", "--store", store, "--json")
    assert listed.exit_code == 0, listed.output
    teams = json.loads(listed.output)
    assert [t["team"] for t in teams] == [TEAM_A, TEAM_B]  # a HIGH before a MEDIUM
    assert teams[0]["components"][0]["findings"][0]["rule"] == "no-eval"
    assert teams[1]["components"][0]["findings"][0]["rule"] == "GHSA-35jh-r3h4-6jhm"
    only_b = json.loads(invoke("findings", "--team", "team-b", "--store", store, "--json").output)
    assert [t["team"] for t in only_b] == [TEAM_B]
    none = invoke("findings", "--severity", "critical", "--store", store)
    assert none.exit_code == 0 and "no open findings" in none.output
    table = invoke("findings", "--store", store)
    assert "no-eval" in table.output and "group:default/team-a" in table.output
    assert invoke("findings", "--severity", "bad", "--store", store).exit_code == 2


def test_a_broken_file_fails_the_command(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sarif"
    broken.write_text('{"version": "2.1.0", "runs": [', encoding="utf-8")
    result = invoke(
        "load", "sarif", str(broken), "--entity", "shop", "--store", str(tmp_path / "store")
    )
    assert result.exit_code == 1
    assert f"{broken}: line 1 column" in result.output.replace("\n", "")
