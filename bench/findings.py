"""Findings benchmarks: ``python -m bench.findings [--results N] [--components N] [--json]``.

Measures, each figure the median of ``--repeats`` runs on a fresh embedded store:

- SARIF ingest: a generated 2.1.0 log of N results (bandit-like: snippets, no fingerprints, so
  every fingerprint is computed) through the real loader (read, parse, fingerprint, lifecycle
  diff, one write transaction), and the unchanged re-load;
- OSV matching: A advisories (PyPI, npm, Maven ranges in their own version orders) against P
  package versions, in memory, and reading the advisories from one JSON file; then, once,
  ``load osv`` end to end against a store whose components use those P versions;
- a team's finding summary over GraphQL in-process (``group { findingSummary }``) at C
  components with F open findings, p50/p95 over random teams.

Targets (the issue): >= 20k results/s; 10k advisories x 100k versions <= 10 s; summary p50 <= 50 ms
at 100k components.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.findings import ObservedFinding, SourceReport, apply_report
from graph_api.model import parse_entity
from graph_api.model.packages import purl
from graph_api.security import Policy, Viewer
from graph_api.store import ChangeSet, PackageRecord, PackageUse, PlacedEntity, SourceFacts
from graph_api.store.embedded import EmbeddedStore
from loaders.findings.load import load_osv, load_sarif
from loaders.findings.osv import match, parse_osv
from loaders.findings.versions import parsed as parsed_versions

RULES = [f"B{n}" for n in range(100, 160)]


def sarif_log(results: int, seed: int = 1) -> dict[str, Any]:
    """A bandit-like SARIF log of ``results`` results over 400 packages of modules."""
    rng = random.Random(seed)
    return {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Bandit",
                        "rules": [
                            {
                                "id": rule,
                                "name": f"rule_{rule}",
                                "properties": {
                                    "security-severity": str(rng.choice([2.0, 5.5, 7.5, 9.1]))
                                },
                            }
                            for rule in RULES
                        ],
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "endTimeUtc": "2024-05-01T10:00:00Z"}
                ],
                "results": [
                    {
                        "ruleId": (rule := rng.choice(RULES)),
                        "level": rng.choice(["error", "warning", "note"]),
                        "message": {"text": f"Issue {rule} found in call {n % 97}"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {
                                        "uri": f"src/pkg{n % 400}/module{n % 37}.py"
                                    },
                                    "region": {
                                        "startLine": 1 + n % 900,
                                        "snippet": {
                                            "text": f"    value_{n} = call_{rule}(arg_{n % 13})\n"
                                        },
                                    },
                                }
                            }
                        ],
                        "properties": {"issue_confidence": "HIGH", "issue_severity": "MEDIUM"},
                    }
                    for n in range(results)
                ],
            }
        ],
    }


async def _with_store(work: Callable[[EmbeddedStore], Awaitable[float]]) -> float:
    with tempfile.TemporaryDirectory(prefix="devgraph-bench-") as folder:
        store = EmbeddedStore(Path(folder) / "store")
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()


def component(name: str, owner: str) -> PlacedEntity:
    entity = parse_entity(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {"type": "service", "lifecycle": "production", "owner": owner},
        }
    )
    return PlacedEntity(entity, "bench")


def group(name: str, parent: str | None) -> PlacedEntity:
    spec: dict[str, Any] = {"type": "team", "children": []}
    if parent:
        spec["parent"] = parent
    entity = parse_entity(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name},
            "spec": spec,
        }
    )
    return PlacedEntity(entity, "bench")


async def bench_sarif(results: int, repeats: int) -> dict[str, float]:
    """SARIF load and unchanged re-load, medians over fresh stores."""
    folder = Path(tempfile.mkdtemp(prefix="devgraph-sarif-"))
    path = folder / "big.sarif"
    path.write_bytes(orjson.dumps(sarif_log(results)))
    firsts: list[float] = []
    reloads: list[float] = []

    async def once(store: EmbeddedStore) -> float:
        await store.apply(ChangeSet(source="bench", upserts=[component("svc", "team")]))
        started = time.perf_counter()
        (outcome,) = await load_sarif(store, [path], entity="svc")
        firsts.append(time.perf_counter() - started)
        assert outcome.ok and outcome.reports[0].open + outcome.reports[0].suppressed == results
        started = time.perf_counter()
        (again,) = await load_sarif(store, [path], entity="svc")
        reloads.append(time.perf_counter() - started)
        assert again.reports[0].unchanged
        return 0.0

    for _ in range(repeats):
        await _with_store(once)
    first = statistics.median(firsts)
    return {
        "results": results,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "load_s": round(first, 3),
        "results_per_s": round(results / first),
        "unchanged_reload_s": round(statistics.median(reloads), 3),
    }


def _advisory(index: int, ecosystem: str, name: str, rng: random.Random) -> dict[str, Any]:
    major = rng.randrange(1, 6)
    events: list[dict[str, str]] = [
        {"introduced": "0" if rng.random() < 0.3 else f"{major}.0.0"},
        {"fixed": f"{major}.{rng.randrange(1, 20)}.{rng.randrange(0, 10)}"},
    ]
    if rng.random() < 0.3:  # a second window, out of order
        events = [{"fixed": f"{major + 1}.2.0"}, *events, {"introduced": f"{major + 1}.0.0"}]
    return {
        "schema_version": "1.6.0",
        "id": f"GHSA-bench-{index}",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": [f"CVE-2024-{index}"],
        "summary": "bench",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


def bench_matching(advisories: int, versions: int, repeats: int) -> dict[str, Any]:
    """Advisories matched to package versions in memory (medians), then loaded once."""
    rng = random.Random(2)
    ecosystems = [("PyPI", "pypi"), ("npm", "npm"), ("Maven", "maven")]
    names = {
        eco: [f"org.bench:lib{i}" if eco == "maven" else f"lib-{eco}-{i}" for i in range(5000)]
        for _, eco in ecosystems
    }
    packages = []
    for n in range(versions):
        osv_eco, eco = ecosystems[n % 3]
        name = rng.choice(names[eco])
        version = f"{rng.randrange(1, 7)}.{rng.randrange(0, 25)}.{rng.randrange(0, 12)}"
        packages.append(PackageRecord(purl(eco, name, version), eco, name, version))
    records = []
    for index in range(advisories):
        osv_eco, eco = ecosystems[index % 3]
        records.append(_advisory(index, osv_eco, rng.choice(names[eco]), rng))
    document = orjson.dumps(records)
    parse_times, match_times, matched = [], [], 0
    for _ in range(repeats):
        # Fresh caches each time: the version parse cache would otherwise carry over.
        parsed_versions.cache_clear()
        started = time.perf_counter()
        parsed = parse_osv(Path("bench.json"), orjson.loads(document))
        parse_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        matched = len(match(parsed, packages))
        match_times.append(time.perf_counter() - started)
    figures: dict[str, Any] = {
        "advisories": advisories,
        "package_versions": versions,
        "matches": matched,
        "read_s": round(statistics.median(parse_times), 3),
        "match_s": round(statistics.median(match_times), 3),
        "total_s": round(statistics.median(parse_times) + statistics.median(match_times), 3),
    }
    figures["load_osv_s"] = asyncio.run(_load_osv_once(packages, document))
    return figures


async def _load_osv_once(packages: list[PackageRecord], document: bytes) -> float:
    """``load osv`` end to end, once: the catalog's packages read from the store, matched,
    their users found, findings and vulnerabilities written (100 packages per component)."""
    folder = Path(tempfile.mkdtemp(prefix="devgraph-osv-"))
    (folder / "advisories.json").write_bytes(document)

    async def once(store: EmbeddedStore) -> float:
        users = [component(f"svc-{n}", "team") for n in range(len(packages) // 100 + 1)]
        uses = [
            PackageUse(users[n // 100].entity.ref, package, None, "required", "bom.json")
            for n, package in enumerate(packages)
        ]
        await store.apply(
            ChangeSet(source="bench-sbom", upserts=users, facts=SourceFacts(packages=uses))
        )
        started = time.perf_counter()
        (outcome,) = await load_osv(store, [folder / "advisories.json"])
        assert outcome.ok, outcome.error
        return round(time.perf_counter() - started, 3)

    return await _with_store(once)


async def bench_summary(components: int, findings: int, queries: int) -> dict[str, Any]:
    """A team's findingSummary over GraphQL at ``components`` components: p50/p95."""
    teams = max(components // 100, 1)
    rng = random.Random(3)

    async def run(store: EmbeddedStore) -> float:
        parents = [group(f"dept-{d}", None) for d in range(max(teams // 10, 1))]
        children = [group(f"team-{t}", f"dept-{t % len(parents)}") for t in range(teams)]
        upserts = (
            parents
            + children
            + [component(f"svc-{n}", f"team-{n % teams}") for n in range(components)]
        )
        await store.apply(ChangeSet(source="bench", upserts=upserts))
        by_entity: dict[str, list[ObservedFinding]] = {}
        for n in range(findings):
            entity = f"component:default/svc-{rng.randrange(components)}"
            by_entity.setdefault(entity, []).append(
                ObservedFinding(
                    entity=entity,
                    kind="CODE",
                    tool="bench",
                    rule=f"R{n % 50}",
                    fingerprint=str(n),
                    severity=rng.choice(["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]),
                    message="x",
                )
            )
        await apply_report(
            store, SourceReport("bench-findings", [f for fs in by_entity.values() for f in fs])
        )
        schema = build_schema()
        viewer = Viewer.local_admin("bench")
        query = "query($t: String!) { group(ref: $t) { findingSummary { critical high total } } }"
        samples: list[float] = []
        for _ in range(queries):
            team = f"team-{rng.randrange(teams)}"
            context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
            started = time.perf_counter()
            result = await schema.execute(query, variable_values={"t": team}, context_value=context)
            samples.append(time.perf_counter() - started)
            assert result.errors is None, result.errors
        summary["p50_ms"] = round(statistics.median(samples) * 1000, 2)
        summary["p95_ms"] = round(sorted(samples)[int(len(samples) * 0.95)] * 1000, 2)
        dept = "dept-0"
        context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
        started = time.perf_counter()
        await schema.execute(query, variable_values={"t": dept}, context_value=context)
        summary["department_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return 0.0

    summary: dict[str, Any] = {
        "components": components,
        "teams": teams,
        "open_findings": findings,
        "queries": queries,
    }
    await _with_store(run)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--advisories", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--components", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {
        "sarif": asyncio.run(bench_sarif(args.results, args.repeats)),
        "osv_matching": bench_matching(args.advisories, args.versions, args.repeats),
        "team_summary": asyncio.run(bench_summary(args.components, args.findings, args.queries)),
    }
    print(
        json.dumps(figures, indent=2)
        if args.json
        else "\n".join(f"{name}: {json.dumps(values)}" for name, values in figures.items())
    )


if __name__ == "__main__":
    main()
