"""GraphQL findings and dependency health over a real store: the findings connection, summaries
per component, team, system and domain, who may see them, and vulnerable packages.

The estate is ``tests/_findings.py``'s: org > team-a (shop), team-b (billing, legacy); system
commerce (shop, billing) in domain retail. Findings come through the real loaders: a CodeQL-shaped
SARIF for shop, an SPDX SBOM for billing (log4j-core 2.14.1) and OSV advisories for log4j.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _findings import BILLING, SHOP, TEAM_A, TEAM_B, load_estate, osv_record, write_json

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.settings import LicensePolicy
from graph_api.store.embedded import EmbeddedStore
from loaders.findings.load import load_osv, load_sarif, load_sbom

SCHEMA = build_schema()
ADMIN = Viewer.local_admin("root")
SECURITY = Viewer(name="sec", role="security", authenticated=True)
ORG_VIEWER = Viewer(name="cto", role="viewer", team="group:default/org", authenticated=True)
A_VIEWER = Viewer(name="ann", role="viewer", team=TEAM_A, authenticated=True)
B_VIEWER = Viewer(name="bo", role="viewer", team=TEAM_B, authenticated=True)
LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"


def sarif_result(rule: str, level: str, line: int) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": f"{rule} here"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": "src/app.js"},
                    "region": {"startLine": line},
                }
            }
        ],
        "partialFingerprints": {"primaryLocationLineHash": f"{rule}:1"},
    }


SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "CodeQL",
                    "rules": [{"id": "js/xss", "properties": {"security-severity": "9.6"}}],
                }
            },
            "results": [
                sarif_result("js/xss", "error", 3),
                sarif_result("js/sqli", "error", 7),
                sarif_result("js/todo", "note", 9),
            ],
        }
    ],
}
SPDX = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "billing",
    "creationInfo": {"created": "2024-05-02T08:00:00Z", "creators": ["Tool: syft-1.4.1"]},
    "packages": [
        {
            "SPDXID": "SPDXRef-log4j",
            "name": "log4j-core",
            "versionInfo": "2.14.1",
            "licenseConcluded": "Apache-2.0",
            "checksums": [{"algorithm": "SHA256", "checksumValue": "AB12"}],
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"{LOG4J}?type=jar",
                }
            ],
        },
        {
            "SPDXID": "SPDXRef-api",
            "name": "log4j-api",
            "versionInfo": "2.14.1",
            "licenseConcluded": "Apache-2.0",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1",
                }
            ],
        },
        {
            "SPDXID": "SPDXRef-gpl",
            "name": "gpl-lib",
            "versionInfo": "1.0",
            "licenseConcluded": "GPL-3.0-only",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:npm/gpl-lib@1.0",
                }
            ],
        },
    ],
    "relationships": [
        {
            "spdxElementId": "SPDXRef-log4j",
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": "SPDXRef-api",
        }
    ],
}


@pytest.fixture
async def estate(embedded: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    await load_estate(embedded, tmp_path / "catalog")
    (sarif,) = await load_sarif(
        embedded, [write_json(tmp_path / "codeql.sarif", SARIF)], entity="shop"
    )
    (sbom,) = await load_sbom(
        embedded,
        [write_json(tmp_path / "billing.spdx.json", SPDX)],
        expected="spdx",
        policy=LicensePolicy(denied=["GPL-3.0-only"]),
        entity="billing",
    )
    record = osv_record(
        "GHSA-jfh8-c2jp-5v3q",
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}],
        aliases=["CVE-2021-44228"],
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
    )
    (osv,) = await load_osv(embedded, [write_json(tmp_path / "osv" / "log4j.json", record)])
    assert sarif.ok and sbom.ok and osv.ok, (sarif.error, sbom.error, osv.error)
    return embedded


async def run(store: EmbeddedStore, query: str, viewer: Viewer = ADMIN, **variables: Any) -> Any:
    context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
    return await SCHEMA.execute(query, variable_values=variables or None, context_value=context)


async def data(store: EmbeddedStore, query: str, viewer: Viewer = ADMIN, **variables: Any) -> Any:
    result = await run(store, query, viewer, **variables)
    assert result.errors is None, [e.formatted for e in result.errors or []]
    return result.data


FINDINGS = """
query($filter: FindingFilterInput, $after: String) {
  findings(filter: $filter, first: 2, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ruleId severity status kind tool entityRef entity { ref }
                   firstSeen lastSeen resolvedAt file line packagePurl advisoryId } }
  }
}
"""


async def test_findings_connection_worst_first_with_filters_and_pages(
    estate: EmbeddedStore,
) -> None:
    everything = (await data(estate, FINDINGS))["findings"]
    assert everything["totalCount"] == 5
    first = [e["node"] for e in everything["edges"]]
    assert [(n["severity"], n["ruleId"]) for n in first] == [
        ("CRITICAL", "GHSA-jfh8-c2jp-5v3q"),
        ("CRITICAL", "js/xss"),
    ]
    assert first[0]["entity"]["ref"] == BILLING and first[0]["packagePurl"] == LOG4J
    rest = await data(estate, FINDINGS, after=everything["pageInfo"]["endCursor"])
    assert [e["node"]["ruleId"] for e in rest["findings"]["edges"]] == ["license-denied", "js/sqli"]

    team_a = await data(estate, FINDINGS, filter={"team": "team-a", "severity": ["HIGH", "LOW"]})
    assert team_a["findings"]["totalCount"] == 2
    assert {e["node"]["entityRef"] for e in team_a["findings"]["edges"]} == {SHOP}
    kinds = await data(estate, FINDINGS, filter={"system": "commerce", "kind": ["LICENSE"]})
    assert [e["node"]["ruleId"] for e in kinds["findings"]["edges"]] == ["license-denied"]
    by_tool = await data(estate, FINDINGS, filter={"tool": ["osv"], "status": ["OPEN"]})
    assert by_tool["findings"]["totalCount"] == 1
    none = await data(estate, FINDINGS, filter={"entity": "legacy"})
    assert none["findings"]["totalCount"] == 0


SUMMARIES = """
{
  component(ref: "shop") {
    findingSummary { critical high medium low info total }
    findings(status: [OPEN]) { ruleId severity }
  }
  group(ref: "org") { findingSummary { critical high medium low total } }
  teamB: group(ref: "team-b") { findingSummary { critical high total } }
  system(ref: "commerce") { findingSummary { total } }
  domain(ref: "retail") { findingSummary { critical total } }
}
"""


async def test_summaries_follow_ownership_systems_and_domains(estate: EmbeddedStore) -> None:
    found = await data(estate, SUMMARIES)
    shop = found["component"]
    assert shop["findingSummary"] == {
        "critical": 1,
        "high": 1,
        "medium": 0,
        "low": 1,
        "info": 0,
        "total": 3,
    }
    assert [f["ruleId"] for f in shop["findings"]] == ["js/xss", "js/sqli", "js/todo"]
    # org has no components of its own: its child teams' count.
    assert found["group"]["findingSummary"] == {
        "critical": 2,
        "high": 2,
        "medium": 0,
        "low": 1,
        "total": 5,
    }
    assert found["teamB"]["findingSummary"] == {"critical": 1, "high": 1, "total": 2}
    assert found["system"]["findingSummary"]["total"] == 5
    assert found["domain"]["findingSummary"] == {"critical": 2, "total": 5}


@pytest.mark.parametrize(
    ("viewer", "allowed"),
    [
        (ADMIN, True),
        (SECURITY, True),
        (ORG_VIEWER, True),
        (A_VIEWER, True),
        (B_VIEWER, False),
        (Viewer.anonymous(), False),
    ],
)
async def test_who_may_see_findings(estate: EmbeddedStore, viewer: Viewer, allowed: bool) -> None:
    result = await run(
        estate,
        '{ component(ref: "shop") { ref findingSummary { total } findings { ruleId } } }',
        viewer,
    )
    if allowed:
        assert result.errors is None and result.data["component"]["findingSummary"]["total"] == 3
        return
    assert {e.extensions["code"] for e in result.errors} == {"FORBIDDEN"}
    # The component itself still reads; only its findings are withheld.
    assert result.data["component"] == {"ref": SHOP, "findingSummary": None, "findings": None}


async def test_listing_every_team_needs_a_security_role(estate: EmbeddedStore) -> None:
    denied = await run(estate, FINDINGS, A_VIEWER)
    assert denied.errors and denied.errors[0].extensions["code"] == "FORBIDDEN"
    own = await data(estate, FINDINGS, A_VIEWER, filter={"team": "team-a"})
    assert own["findings"]["totalCount"] == 3
    other = await run(estate, FINDINGS, A_VIEWER, filter={"team": "team-b"})
    assert other.errors[0].extensions["code"] == "FORBIDDEN"
    assert (await data(estate, FINDINGS, SECURITY))["findings"]["totalCount"] == 5


LOG4J_QUERY = """
{
  packages(filter: {name: "log4j-core", versionRange: "<2.17.1"}) {
    totalCount
    nodes {
      purl version
      licenses { expression spdxIds raw source }
      hashes
      vulnerabilities { id aliases summary severity score fixedVersions sources }
      dependencies { purl }
      usedBy { ref ... on Component { owner { ref } } }
    }
  }
}
"""


async def test_which_components_use_a_vulnerable_log4j_and_who_owns_them(
    estate: EmbeddedStore,
) -> None:
    found = (await data(estate, LOG4J_QUERY, Viewer(name="x", authenticated=True)))["packages"]
    assert found["totalCount"] == 1
    (package,) = found["nodes"]
    assert package["purl"] == LOG4J
    assert package["usedBy"] == [{"ref": BILLING, "owner": {"ref": TEAM_B}}]
    assert package["licenses"] == [
        {
            "expression": "Apache-2.0",
            "spdxIds": ["Apache-2.0"],
            "raw": "Apache-2.0",
            "source": f"sbom:spdx:{BILLING}",
        }
    ]
    assert package["hashes"] == ["SHA-256:ab12"]
    assert package["dependencies"] == [
        {"purl": "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1"}
    ]
    (vuln,) = package["vulnerabilities"]
    assert vuln["id"] == "GHSA-jfh8-c2jp-5v3q" and vuln["aliases"] == ["CVE-2021-44228"]
    assert (vuln["severity"], vuln["score"], vuln["fixedVersions"]) == (
        "CRITICAL",
        10.0,
        ["2.15.0"],
    )
    fixed = await data(
        estate,
        '{ packages(filter: {name: "log4j-core", versionRange: ">=2.17.1"}) { totalCount } }',
    )
    assert fixed["packages"]["totalCount"] == 0
    one = await data(
        estate, "query($p: String!) { package(purl: $p) { vulnerabilities { id } } }", p=LOG4J
    )
    assert one["package"]["vulnerabilities"] == [{"id": "GHSA-jfh8-c2jp-5v3q"}]


async def test_bad_filters_are_user_errors(estate: EmbeddedStore) -> None:
    missing = await run(estate, FINDINGS, filter={"entity": "nothing"})
    assert missing.errors[0].extensions["code"] == "NOT_FOUND"
    bad = await run(estate, FINDINGS, filter={"team": "group:"})
    assert bad.errors[0].extensions["code"] == "BAD_USER_INPUT"
