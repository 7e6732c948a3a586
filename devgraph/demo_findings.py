"""Scanner reports, SBOMs and advisories for the demo estate: ``python -m devgraph.demo_findings
ESTATE OUT``.

Reads the components ``python -m devgraph.demo`` wrote to ESTATE and writes, deterministically,
into OUT: a CodeQL-shaped SARIF log per scanned component (``sarif/``), a CycloneDX SBOM per
component whose language has packages (``sbom/``), and OSV records (``osv/``) for well-known
advisories of the packages those SBOMs use, with the ranges the GitHub Advisory Database
publishes. Reports name their repository, so ``devgraph load`` finds each component itself.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import yaml

from devgraph.demo import ORG

SEED = 11
# (ecosystem, purl name, name as the ecosystem writes it, version, license)
PACKAGES: dict[str, list[tuple[str, str, str, str]]] = {
    "python": [
        ("jinja2", "Jinja2", "2.10", "License :: OSI Approved :: BSD License"),
        ("requests", "requests", "2.19.1", "Apache-2.0"),
        ("pyyaml", "PyYAML", "5.3.1", "MIT"),
        ("urllib3", "urllib3", "2.2.2", "MIT"),
        ("django", "Django", "4.2.14", "BSD-3-Clause"),
    ],
    "typescript": [
        ("lodash", "lodash", "4.17.20", "MIT"),
        ("minimist", "minimist", "1.2.5", "MIT"),
        ("express", "express", "4.19.2", "MIT"),
        ("readline-sync", "readline-sync", "1.4.10", "GPL-3.0-only"),
    ],
    "java": [
        ("org.apache.logging.log4j/log4j-core", "log4j-core", "2.14.1", "Apache-2.0"),
        ("com.fasterxml.jackson.core/jackson-databind", "jackson-databind", "2.17.1", "Apache-2.0"),
        ("org.hibernate/hibernate-core", "hibernate-core", "5.6.15.Final", "LGPL-2.1-only"),
    ],
}
PURL_TYPES = {
    "python": "pypi",
    "typescript": "npm",
    "javascript": "npm",
    "java": "maven",
    "kotlin": "maven",
    "scala": "maven",
}
# (id, aliases, OSV ecosystem, package, events, CVSS 3.1 vector, summary)
ADVISORIES: list[tuple[str, list[str], str, str, list[dict[str, str]], str, str]] = [
    (
        "GHSA-462w-v97r-4m45",
        ["CVE-2019-10906"],
        "PyPI",
        "Jinja2",
        [{"introduced": "0"}, {"fixed": "2.10.1"}],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "Jinja2 sandbox escape via string formatting",
    ),
    (
        "GHSA-x84v-xcm2-53pg",
        ["CVE-2018-18074"],
        "PyPI",
        "requests",
        [{"introduced": "2.3.0"}, {"fixed": "2.20.0"}],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "Insufficiently protected credentials",
    ),
    (
        "GHSA-8q59-q68h-6hv4",
        ["CVE-2020-14343"],
        "PyPI",
        "PyYAML",
        [{"introduced": "0"}, {"fixed": "5.4"}],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "Improper input validation in PyYAML",
    ),
    (
        "GHSA-35jh-r3h4-6jhm",
        ["CVE-2021-23337"],
        "npm",
        "lodash",
        [{"introduced": "0"}, {"fixed": "4.17.21"}],
        "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
        "Command injection in lodash",
    ),
    (
        "GHSA-xvch-5gv4-984h",
        ["CVE-2021-44906"],
        "npm",
        "minimist",
        [{"introduced": "0"}, {"fixed": "0.2.4"}, {"introduced": "1.0.0"}, {"fixed": "1.2.6"}],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "Prototype pollution in minimist",
    ),
    (
        "GHSA-jfh8-c2jp-5v3q",
        ["CVE-2021-44228"],
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        [
            {"introduced": "2.13.0"},
            {"fixed": "2.15.0"},
            {"introduced": "2.0-beta9"},
            {"fixed": "2.12.2"},
        ],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        "Remote code injection in Log4j",
    ),
    (
        "GHSA-8489-44mv-ggj8",
        ["CVE-2021-44832"],
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        [{"introduced": "2.0-beta7"}, {"fixed": "2.17.1"}],
        "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:H",
        "Improper input validation in Log4j",
    ),
]
# (rule id, security-severity, message)
CODE_RULES = [
    ("js/sql-injection", "8.8", "This query depends on a user-provided value."),
    ("py/command-line-injection", "9.8", "This command line depends on a user-provided value."),
    ("java/xxe", "9.1", "XML parsing depends on a user-provided value without guarding."),
    ("js/reflected-xss", "6.1", "Cross-site scripting vulnerability due to a user-provided value."),
    ("py/weak-cryptographic-algorithm", "7.5", "A broken or weak cryptographic algorithm is used."),
    ("js/unused-local-variable", None, "Unused variable."),
]


def components(estate: Path) -> list[tuple[str, str, str]]:
    """``(name, language, repository URL)`` of every component, from its descriptor."""
    found = []
    for path in sorted(estate.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "Component":
                continue
            metadata = doc["metadata"]
            slug = (metadata.get("annotations") or {}).get("github.com/project-slug")
            if slug:
                found.append(
                    (
                        metadata["name"],
                        (metadata.get("tags") or ["?"])[0],
                        f"https://github.com/{slug}",
                    )
                )
    return found


RULE_PREFIXES = {"python": "py/", "typescript": "js/", "javascript": "js/", "java": "java/"}


def sarif(name: str, language: str, repository: str, rng: random.Random) -> dict[str, Any]:
    """A CodeQL-shaped log of one to four results of the component's language."""
    prefix = RULE_PREFIXES.get(language, "")
    own = [rule for rule in CODE_RULES if rule[0].startswith(prefix)] if prefix else CODE_RULES
    rules = rng.sample(own, k=rng.randint(1, len(own)))
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "CodeQL",
                        "semanticVersion": "2.17.6",
                        "rules": [
                            {
                                "id": rule,
                                "properties": {"security-severity": score} if score else {},
                                "defaultConfiguration": {"level": "warning" if score else "note"},
                            }
                            for rule, score, _ in rules
                        ],
                    }
                },
                "versionControlProvenance": [{"repositoryUri": repository, "branch": "main"}],
                "invocations": [
                    {"executionSuccessful": True, "endTimeUtc": "2024-06-03T09:00:00Z"}
                ],
                "results": [
                    {
                        "ruleId": rule,
                        "message": {"text": message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": f"src/{name.replace('-', '_')}/handler{n}.src"
                                    },
                                    "region": {"startLine": rng.randint(5, 400)},
                                }
                            }
                        ],
                        "partialFingerprints": {
                            "primaryLocationLineHash": f"{rng.getrandbits(64):016x}:1"
                        },
                    }
                    for n, (rule, _, message) in enumerate(rules)
                ],
            }
        ],
    }


def sbom(name: str, language: str, repository: str, rng: random.Random) -> dict[str, Any] | None:
    """A CycloneDX SBOM of some of the language's packages, or None for other languages."""
    family = "typescript" if language == "javascript" else language
    if family in ("kotlin", "scala"):
        family = "java"
    choices = PACKAGES.get(family)
    if choices is None:
        return None
    picked = rng.sample(choices, k=rng.randint(2, len(choices)))
    purl_type = PURL_TYPES[family]
    parts = []
    for purl_name, written, version, license_text in picked:
        key = "id" if " " not in license_text else "name"
        parts.append(
            {
                "type": "library",
                "bom-ref": f"{purl_name}@{version}",
                "name": written,
                "version": version,
                "purl": f"pkg:{purl_type}/{purl_name}@{version}",
                "licenses": [{"license": {key: license_text}}],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": "2024-06-03T09:00:00Z",
            "tools": {"components": [{"type": "application", "name": "cyclonedx-demo"}]},
            "component": {
                "type": "application",
                "name": name,
                "bom-ref": name,
                "externalReferences": [{"type": "vcs", "url": repository}],
            },
        },
        "components": parts,
        "dependencies": [{"ref": name, "dependsOn": [p["bom-ref"] for p in parts]}],
    }


def advisory(
    entry: tuple[str, list[str], str, str, list[dict[str, str]], str, str],
) -> dict[str, Any]:
    """An OSV record as the GitHub Advisory Database publishes it."""
    vuln_id, aliases, ecosystem, package, events, vector, summary = entry
    return {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": "2024-05-20T00:00:00Z",
        "published": "2021-12-10T00:00:00Z",
        "aliases": aliases,
        "summary": summary,
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://github.com/advisories/{vuln_id}"}],
        "database_specific": {"github_reviewed": True},
    }


def write_findings(estate: Path, out: Path) -> dict[str, int]:
    """Write the demo's reports; the same estate gives the same bytes."""
    rng = random.Random(SEED)
    counts = {"sarif": 0, "sbom": 0, "osv": 0}
    for kind in counts:
        (out / kind).mkdir(parents=True, exist_ok=True)
        for old in (out / kind).glob("*.json"):
            old.unlink()
    for name, language, repository in components(estate):
        if rng.random() < 0.4:
            _write(out / "sarif" / f"{name}.json", sarif(name, language, repository, rng))
            counts["sarif"] += 1
        document = sbom(name, language, repository, rng) if rng.random() < 0.6 else None
        if document is not None:
            _write(out / "sbom" / f"{name}.json", document)
            counts["sbom"] += 1
    for entry in ADVISORIES:
        _write(out / "osv" / f"{entry[0]}.json", advisory(entry))
        counts["osv"] += 1
    return counts


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m devgraph.demo_findings ESTATE OUT")
    counts = write_findings(Path(argv[0]), Path(argv[1]))
    print(
        f"demo findings for {ORG}: {counts['sarif']} SARIF logs, {counts['sbom']} SBOMs, "
        f"{counts['osv']} advisories in {argv[1]}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
