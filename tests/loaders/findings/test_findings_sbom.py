"""SBOMs: ``cyclonedx-py environment`` on an environment the test builds, SPDX 2.3 documents,
CycloneDX vulnerability sections, the license policy, and broken files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _findings import BILLING, SHOP, cyclonedx_sbom, fake_environment, load_estate, write_json

from graph_api.settings import LicensePolicy
from graph_api.store.embedded import EmbeddedStore
from loaders.findings.load import load_sbom

POLICY = LicensePolicy(
    allowed=["MIT", "Apache-2.0", "BSD-3-Clause"], denied=["GPL-3.0-only", "AGPL-3.0-or-later"]
)
# What `pip install` of these (old) releases leaves in site-packages, metadata as published.
OLD_PACKAGES = {
    "Jinja2": (
        "2.10",
        [
            "License: BSD",
            "Classifier: License :: OSI Approved :: BSD License",
            "Requires-Dist: MarkupSafe>=0.23",
        ],
    ),
    "MarkupSafe": ("1.0", ["License-Expression: BSD-3-Clause"]),
    "requests": (
        "2.19.1",
        ["License: Apache 2.0", "Classifier: License :: OSI Approved :: Apache Software License"],
    ),
    "gpl-only": ("1.0", ["License-Expression: GPL-3.0-only"]),
    "dual-licensed": ("3.2", ["License-Expression: MIT OR GPL-3.0-only"]),
}
PYPROJECT = '[project]\nname = "shop"\nversion = "1.0.0"\n'


@pytest.fixture
async def estate(embedded: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    await load_estate(embedded, tmp_path / "catalog")
    return embedded


def environment_sbom(tmp_path: Path, packages: dict[str, Any], name: str) -> Path:
    python = fake_environment(tmp_path / "env", packages)
    project = tmp_path / "pyproject.toml"
    project.write_text(PYPROJECT, encoding="utf-8")
    return cyclonedx_sbom(python, tmp_path / name, project=project)


async def test_cyclonedx_py_environment_packages_licenses_policy_and_rescan(
    estate: EmbeddedStore, tmp_path: Path
) -> None:
    sbom = environment_sbom(tmp_path, OLD_PACKAGES, "bom-1.json")
    # No --entity: metadata.component (from --pyproject) is named shop.
    (outcome,) = await load_sbom(estate, [sbom], expected="cyclonedx", policy=POLICY)
    assert outcome.ok, outcome.error
    assert outcome.entity == SHOP
    (report,) = outcome.reports
    assert report.source == f"sbom:cyclonedx:{SHOP}"
    uses = (await estate.package_uses([SHOP]))[SHOP]
    assert {u.package.purl for u in uses} == {
        "pkg:pypi/jinja2@2.10",
        "pkg:pypi/markupsafe@1.0",
        "pkg:pypi/requests@2.19.1",
        "pkg:pypi/gpl-only@1.0",
        "pkg:pypi/dual-licensed@3.2",
    }
    declared = await estate.package_declarations(
        ["pkg:pypi/jinja2@2.10", "pkg:pypi/requests@2.19.1"]
    )
    jinja = {(s.raw, s.expression) for d in declared["pkg:pypi/jinja2@2.10"] for s in d.licenses}
    # A trove classifier that names no BSD variant is kept as written, never guessed.
    assert ("License :: OSI Approved :: BSD License", None) in jinja
    # cyclonedx-py prefers classifiers; "Apache Software License" names no version either.
    requests = {
        (s.raw, s.expression) for d in declared["pkg:pypi/requests@2.19.1"] for s in d.licenses
    }
    assert requests == {("License :: OSI Approved :: Apache Software License", None)}
    assert [
        d.depends_on
        for d in (await estate.package_dependencies(["pkg:pypi/jinja2@2.10"]))[
            "pkg:pypi/jinja2@2.10"
        ]
    ] == ["pkg:pypi/markupsafe@1.0"]
    findings = {f.package: f for f in await estate.source_findings(report.source)}
    assert set(findings) == {
        "pkg:pypi/jinja2@2.10",
        "pkg:pypi/requests@2.19.1",
        "pkg:pypi/gpl-only@1.0",
    }
    assert findings["pkg:pypi/gpl-only@1.0"].severity == "HIGH"
    assert findings["pkg:pypi/gpl-only@1.0"].rule == "license-denied"
    assert findings["pkg:pypi/jinja2@2.10"].rule == "license-review"

    writes = estate.writes
    (again,) = await load_sbom(estate, [sbom], expected="cyclonedx", policy=POLICY)
    assert again.reports[0].unchanged and estate.writes == writes

    # The GPL package is removed from the environment: a new SBOM resolves its finding.
    fixed = {k: v for k, v in OLD_PACKAGES.items() if k != "gpl-only"}
    (outcome,) = await load_sbom(
        estate,
        [environment_sbom(tmp_path, fixed, "bom-2.json")],
        expected="cyclonedx",
        policy=POLICY,
    )
    assert outcome.reports[0].resolved == 1
    stored = {f.package: f.status for f in await estate.source_findings(report.source)}
    assert stored == {
        "pkg:pypi/jinja2@2.10": "OPEN",
        "pkg:pypi/requests@2.19.1": "OPEN",
        "pkg:pypi/gpl-only@1.0": "RESOLVED",
    }
    assert "pkg:pypi/gpl-only@1.0" not in {
        u.package.purl for u in (await estate.package_uses([SHOP]))[SHOP]
    }


SPDX = {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "billing",
    "documentNamespace": "https://anchore.com/syft/dir/billing-5e1c",
    "creationInfo": {
        "created": "2024-05-02T08:00:00Z",
        "creators": ["Organization: Anchore, Inc", "Tool: syft-1.4.1"],
    },
    "documentDescribes": ["SPDXRef-Package-billing"],
    "packages": [
        {
            "SPDXID": "SPDXRef-Package-billing",
            "name": "billing",
            "versionInfo": "1.0",
            "downloadLocation": "git+https://github.com/acme/billing.git",
            "licenseConcluded": "NOASSERTION",
        },
        {
            "SPDXID": "SPDXRef-Package-log4j",
            "name": "log4j-core",
            "versionInfo": "2.14.1",
            "downloadLocation": "NOASSERTION",
            "licenseConcluded": "Apache-2.0",
            "licenseDeclared": "Apache-2.0",
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": "9141212B8507AB50A45525B545B39D224614528B"}
            ],
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
                }
            ],
        },
        {
            "SPDXID": "SPDXRef-Package-log4j-api",
            "name": "log4j-api",
            "versionInfo": "2.14.1",
            "downloadLocation": "NOASSERTION",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "Apache-2.0 OR AGPL-3.0-or-later",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE_MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1",
                }
            ],
        },
        {
            "SPDXID": "SPDXRef-Package-left-pad",
            "name": "left-pad",
            "versionInfo": "1.3.0",
            "downloadLocation": "NOASSERTION",
            "licenseConcluded": "WTFPL",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:npm/left-pad@1.3.0",
                }
            ],
        },
    ],
    "relationships": [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-Package-billing",
        },
        {
            "spdxElementId": "SPDXRef-Package-log4j",
            "relationshipType": "DEPENDS_ON",
            "relatedSpdxElement": "SPDXRef-Package-log4j-api",
        },
        {
            "spdxElementId": "SPDXRef-Package-left-pad",
            "relationshipType": "DEPENDENCY_OF",
            "relatedSpdxElement": "SPDXRef-Package-log4j",
        },
    ],
}


async def test_spdx_document(estate: EmbeddedStore, tmp_path: Path) -> None:
    (outcome,) = await load_sbom(
        estate, [write_json(tmp_path / "billing.spdx.json", SPDX)], expected="spdx", policy=POLICY
    )
    assert outcome.ok, outcome.error
    assert outcome.entity == BILLING  # the described package's git location
    log4j = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    (use,) = [u for u in (await estate.package_uses([BILLING]))[BILLING] if u.package.purl == log4j]
    assert (use.package.ecosystem, use.package.name) == (
        "maven",
        "org.apache.logging.log4j:log4j-core",
    )
    (declared,) = (await estate.package_declarations([log4j]))[log4j]
    assert declared.hashes == ["SHA-1:9141212b8507ab50a45525b545b39d224614528b"]
    deps = await estate.package_dependencies([log4j])
    assert {d.depends_on for d in deps[log4j]} == {
        "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1",
        "pkg:npm/left-pad@1.3.0",
    }
    findings = {f.package: f.rule for f in await estate.source_findings(f"sbom:spdx:{BILLING}")}
    # Apache-2.0 OR AGPL passes through its Apache branch; WTFPL is on no list: review.
    assert findings == {"pkg:npm/left-pad@1.3.0": "license-review"}


def cyclonedx(**extra: Any) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": "2024-05-03T09:00:00Z",
            "tools": {
                "components": [{"type": "application", "name": "trivy", "version": "0.50.1"}]
            },
            "component": {"type": "application", "name": "billing", "bom-ref": "app"},
        },
        "components": [
            {
                "bom-ref": "pkg:npm/lodash@4.17.20",
                "type": "library",
                "name": "lodash",
                "version": "4.17.20",
                "purl": "pkg:npm/lodash@4.17.20",
                "licenses": [{"license": {"id": "MIT"}}],
                "hashes": [{"alg": "SHA-512", "content": "ABCD"}],
            },
            {
                "bom-ref": "pkg:npm/minimist@1.2.5",
                "type": "library",
                "name": "minimist",
                "version": "1.2.5",
                "purl": "pkg:npm/minimist@1.2.5",
            },
        ],
        "dependencies": [
            {"ref": "app", "dependsOn": ["pkg:npm/lodash@4.17.20"]},
            {"ref": "pkg:npm/lodash@4.17.20", "dependsOn": ["pkg:npm/minimist@1.2.5"]},
        ],
        "vulnerabilities": [
            {
                "id": "CVE-2021-23337",
                "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-23337"},
                "references": [{"id": "GHSA-35jh-r3h4-6jhm", "source": {"name": "GitHub"}}],
                "ratings": [
                    {
                        "source": {"name": "NVD"},
                        "score": 7.2,
                        "severity": "high",
                        "method": "CVSSv31",
                    },
                    {"source": {"name": "ghsa"}, "severity": "medium", "method": "CVSSv31"},
                ],
                "description": "Command injection in lodash template",
                "affects": [{"ref": "pkg:npm/lodash@4.17.20"}],
            },
            {
                "id": "CVE-2021-44906",
                "ratings": [{"severity": "critical"}],
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                "affects": [{"ref": "pkg:npm/minimist@1.2.5"}],
            },
        ],
        **extra,
    }


async def test_cyclonedx_vulnerabilities_section(estate: EmbeddedStore, tmp_path: Path) -> None:
    (outcome,) = await load_sbom(
        estate,
        [write_json(tmp_path / "trivy.cdx.json", cyclonedx())],
        expected="cyclonedx",
        policy=LicensePolicy(),
    )
    assert outcome.ok and outcome.entity == BILLING, outcome.error
    found = {f.rule: f for f in await estate.source_findings(f"sbom:cyclonedx:{BILLING}")}
    assert (found["CVE-2021-23337"].severity, found["CVE-2021-23337"].status) == ("HIGH", "OPEN")
    assert found["CVE-2021-23337"].tool == "trivy"
    assert found["CVE-2021-44906"].status == "SUPPRESSED"
    (vuln,) = (await estate.package_vulnerabilities(["pkg:npm/lodash@4.17.20"]))[
        "pkg:npm/lodash@4.17.20"
    ]
    assert vuln.aliases == ["GHSA-35jh-r3h4-6jhm"] and vuln.score == 7.2


@pytest.mark.parametrize(
    ("mangle", "where"),
    [
        (lambda text: text[: len(text) // 2], "line "),
        (
            lambda text: text.replace('"specVersion": "1.5"', '"specVersion": "1.3"'),
            "$.specVersion: CycloneDX 1.4 to 1.7 is supported, not '1.3'",
        ),
        (
            lambda text: text.replace('"purl": "pkg:npm/minimist@1.2.5"', '"purl": "minimist"'),
            "$.components[1].purl: 'minimist' is not a package URL",
        ),
        (
            lambda text: text.replace('"components": [', '"components": [7, '),
            "$.components[0]: must be an object",
        ),
    ],
)
async def test_broken_sboms_name_the_place_and_keep_what_was_loaded(
    estate: EmbeddedStore, tmp_path: Path, mangle: Any, where: str
) -> None:
    good = write_json(tmp_path / "good.json", cyclonedx())
    await load_sbom(estate, [good], expected="cyclonedx", policy=LicensePolicy())
    before = await estate.package_uses([BILLING])
    writes = estate.writes
    bad = tmp_path / "bad.json"
    bad.write_text(mangle(json.dumps(cyclonedx(), indent=1)), encoding="utf-8")
    (outcome,) = await load_sbom(estate, [bad], expected="cyclonedx", policy=LicensePolicy())
    assert (outcome.error or "").startswith(f"{bad}: {where}"), outcome.error
    assert estate.writes == writes and await estate.package_uses([BILLING]) == before


async def test_the_command_names_the_format(estate: EmbeddedStore, tmp_path: Path) -> None:
    (outcome,) = await load_sbom(
        estate, [write_json(tmp_path / "x.json", SPDX)], expected="cyclonedx", policy=POLICY
    )
    assert "this is a spdx document, not cyclonedx" in (outcome.error or "")
