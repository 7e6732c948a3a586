"""OSV advisories matched to the packages a real ``cyclonedx-py`` SBOM put in the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from _findings import (
    SHOP,
    cyclonedx_sbom,
    fake_environment,
    load_estate,
    osv_record,
    write_json,
)

from graph_api.settings import LicensePolicy
from graph_api.store.embedded import EmbeddedStore
from loaders.findings.load import load_osv, load_sbom

ENVIRONMENT = {
    "Jinja2": ("2.10", ["Requires-Dist: MarkupSafe>=0.23"]),
    "MarkupSafe": ("1.0", []),
    "requests": ("2.19.1", []),
    "urllib3": ("1.26.5", []),
}
JINJA, REQUESTS = "pkg:pypi/jinja2@2.10", "pkg:pypi/requests@2.19.1"


def advisories(folder: Path) -> Path:
    """Records as the GitHub Advisory Database publishes them in OSV form, one per file."""
    records = [
        osv_record(
            "GHSA-462w-v97r-4m45",
            "PyPI",
            "Jinja2",
            [{"introduced": "0"}, {"fixed": "2.10.1"}],
            aliases=["CVE-2019-10906"],
        ),
        osv_record(
            "GHSA-x84v-xcm2-53pg",
            "PyPI",
            "requests",
            [{"introduced": "2.3.0"}, {"fixed": "2.20.0"}],
            aliases=["CVE-2018-18074"],
            vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        ),
        # Outside every range: MarkupSafe 1.0 is after the fix.
        osv_record("PYSEC-2014-1", "PyPI", "markupsafe", [{"introduced": "0"}, {"fixed": "0.23"}]),
        # Withdrawn records match nothing.
        osv_record(
            "GHSA-withdrawn",
            "PyPI",
            "MarkupSafe",
            [{"introduced": "0"}],
            withdrawn="2024-01-01T00:00:00Z",
        ),
        # urllib3's last affected release given as last_affected, events out of order.
        osv_record(
            "GHSA-v845-jxx5-vc9f",
            "PyPI",
            "urllib3",
            [{"last_affected": "1.26.17"}, {"introduced": "1.25.4"}],
            vector=None,
        ),
        # Another ecosystem's package of the same name is not ours.
        osv_record("GHSA-npm-requests", "npm", "requests", [{"introduced": "0"}]),
    ]
    for record in records:
        write_json(folder / f"{record['id']}.json", record)
    return folder


@pytest.fixture
async def estate(embedded: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    await load_estate(embedded, tmp_path / "catalog")
    sbom = cyclonedx_sbom(fake_environment(tmp_path / "env", ENVIRONMENT), tmp_path / "bom.json")
    (outcome,) = await load_sbom(
        embedded, [sbom], expected="cyclonedx", policy=LicensePolicy(), entity="shop"
    )
    assert outcome.ok, outcome.error
    return embedded


async def test_advisories_flag_affected_versions_only(
    estate: EmbeddedStore, tmp_path: Path
) -> None:
    folder = advisories(tmp_path / "advisories")
    (outcome,) = await load_osv(estate, [folder])
    assert outcome.ok, outcome.error
    (report,) = outcome.reports
    assert report.source == f"osv:{folder.resolve()}"
    found = {f.advisory: f for f in await estate.source_findings(report.source)}
    assert set(found) == {"GHSA-462w-v97r-4m45", "GHSA-x84v-xcm2-53pg", "GHSA-v845-jxx5-vc9f"}
    jinja = found["GHSA-462w-v97r-4m45"]
    # Its CVSS 3.1 vector scores 8.1: HIGH.
    assert (jinja.entity, jinja.package, jinja.kind, jinja.severity) == (
        SHOP,
        JINJA,
        "VULNERABILITY",
        "HIGH",
    )
    assert found["GHSA-x84v-xcm2-53pg"].severity == "HIGH"  # 7.5
    assert found["GHSA-v845-jxx5-vc9f"].severity == "MEDIUM"  # GHSA's "MODERATE"
    (vuln,) = (await estate.package_vulnerabilities([JINJA]))[JINJA]
    assert (vuln.aliases, vuln.fixed) == (["CVE-2019-10906"], ["2.10.1"])

    writes = estate.writes
    (again,) = await load_osv(estate, [folder])
    assert again.reports[0].unchanged and estate.writes == writes

    # The environment is upgraded past the Jinja2 fix: a new SBOM, the same advisories.
    upgraded = {**ENVIRONMENT, "Jinja2": ("2.10.1", ["Requires-Dist: MarkupSafe>=0.23"])}
    sbom = cyclonedx_sbom(fake_environment(tmp_path / "env", upgraded), tmp_path / "bom-2.json")
    await load_sbom(estate, [sbom], expected="cyclonedx", policy=LicensePolicy(), entity="shop")
    (outcome,) = await load_osv(estate, [folder])
    assert outcome.reports[0].resolved == 1
    status = {f.advisory: f.status for f in await estate.source_findings(report.source)}
    assert status["GHSA-462w-v97r-4m45"] == "RESOLVED"
    assert status["GHSA-x84v-xcm2-53pg"] == "OPEN"


async def test_osv_scanner_output(estate: EmbeddedStore, tmp_path: Path) -> None:
    record = osv_record(
        "GHSA-x84v-xcm2-53pg", "PyPI", "requests", [{"introduced": "2.3.0"}, {"fixed": "2.20.0"}]
    )
    scanner = {
        "results": [
            {
                "source": {"path": "/src/requirements.txt", "type": "lockfile"},
                "packages": [
                    {
                        "package": {"name": "requests", "version": "2.19.1", "ecosystem": "PyPI"},
                        "vulnerabilities": [record],
                        "groups": [{"ids": ["GHSA-x84v-xcm2-53pg"], "max_severity": "7.5"}],
                    }
                ],
            }
        ]
    }
    (outcome,) = await load_osv(estate, [write_json(tmp_path / "osv-scanner.json", scanner)])
    assert outcome.ok, outcome.error
    assert [f.package for f in await estate.source_findings(outcome.reports[0].source)] == [
        REQUESTS
    ]


async def test_bad_records_name_the_place(estate: EmbeddedStore, tmp_path: Path) -> None:
    record = osv_record("GHSA-1", "PyPI", "requests", [{"introduced": "0"}])
    record["affected"][0]["ranges"][0]["type"] = "DATE"
    (outcome,) = await load_osv(estate, [write_json(tmp_path / "bad.json", record)])
    assert (outcome.error or "").endswith(
        "$.affected[0].ranges[0].type: must be ECOSYSTEM, SEMVER or GIT"
    )
    record["schema_version"] = "2.0.0"
    (outcome,) = await load_osv(estate, [write_json(tmp_path / "bad.json", record)])
    assert "$.schema_version: OSV schema 1.x is supported" in (outcome.error or "")
    (tmp_path / "empty").mkdir()
    (outcome,) = await load_osv(estate, [tmp_path / "empty"])
    assert (outcome.error or "").endswith("no *.json files in this folder")
