"""End-to-end benchmark of devgraph on a generated estate, with baselines from the same run.

``python -m bench --size 10000 [--size 100000] [--json]`` generates N components with the shape
of the Backstage comparison (N/20 teams, N/50 systems, N/10 APIs and resources, power-law
``dependsOn`` averaging 5), then measures, each figure the median of repeated runs:

- ingest through the real CLI (``devgraph load files``), first load and unchanged re-load;
- latencies over HTTP against a real ``devgraph serve`` (p50/p95);
- the same blast radius as a raw store call, and as a BFS in rustworkx (the in-memory limit);
- small-query throughput under concurrency with ``hey`` (Debian), and peak RSS.

Figures are medians and ratios: machines here are noisy, absolute times less so than ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import rustworkx as rx
from rich.console import Console
from rich.table import Table

from devgraph.demo import generate_estate
from graph_api.model import RelationType
from graph_api.store import Direction, EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore

console = Console(stderr=True)
DEVGRAPH = [sys.executable, "-m", "devgraph.cli"]
BENCH_ENV = {
    "DEVGRAPH_ALLOW_ANONYMOUS_READ": "true",
    "DEVGRAPH_RATE_LIMIT__ENABLED": "false",
}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_measured(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MiB) of the child process, and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **BENCH_ENV},
        text=True,
    )
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed with status {status}")
    return elapsed, usage.ru_maxrss // 1024, stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(store: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``devgraph serve`` on 127.0.0.1, ready when /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [*DEVGRAPH, "serve", "--store", str(store), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **BENCH_ENV},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("devgraph serve exited before it was ready")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("devgraph serve did not become ready in 120 s")
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_queries(
    client: httpx.Client, base: str, body: dict[str, Any] | Callable[[], list[dict[str, Any]]], repeat: int
) -> list[float]:
    """Milliseconds per request (or per sequence of requests) over ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        bodies = body() if callable(body) else [body]
        for item in bodies:
            response = client.post(f"{base}/graphql", json=item)
            data = response.json()
            if response.status_code != 200 or data.get("errors"):
                raise RuntimeError(f"query failed: {response.status_code} {str(data)[:300]}")
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def list_thousand(client: httpx.Client, base: str) -> Callable[[], list[dict[str, Any]]]:
    """1,000 components with owners, as ten pages of 100 (the API caps a page at 100)."""
    query = (
        "query($after: String) { components(first: 100, after: $after) { pageInfo "
        "{ endCursor } edges { node { ref name owner { ref } } } } }"
    )

    def pages() -> list[dict[str, Any]]:
        # Each page needs the previous cursor, so the pages are fetched here in sequence.
        after = None
        for _ in range(10):
            response = client.post(
                f"{base}/graphql", json={"query": query, "variables": {"after": after}}
            ).json()
            after = response["data"]["components"]["pageInfo"]["endCursor"]
        return []

    return pages


async def store_facts(store_dir: Path, repeat: int) -> dict[str, Any]:
    """The hub, two far-apart components, raw-store blast radius and the rustworkx BFS limit."""
    store = EmbeddedStore(store_dir)
    await store.open()
    try:
        edges = await store.all_edges(RelationType.DEPENDS_ON)
        graph = rx.PyDiGraph()
        index: dict[str, int] = {}
        for a, b in edges:
            for ref in (a, b):
                if ref not in index:
                    index[ref] = graph.add_node(ref)
        graph.add_edges_from_no_data([(index[a], index[b]) for a, b in edges])
        hub = max(index, key=lambda ref: graph.in_degree(index[ref]))
        raw = []
        reached = 0
        for _ in range(repeat):
            start = time.perf_counter()
            reached = len(await store.reachable(hub, RelationType.DEPENDS_ON, Direction.IN, 10))
            raw.append((time.perf_counter() - start) * 1000)
        bfs = []
        for _ in range(repeat):
            start = time.perf_counter()
            rx.ancestors(graph, index[hub])
            bfs.append((time.perf_counter() - start) * 1000)
        components, _ = await store.find_entities(
            EntityFilter(kinds=["component"]), EntityOrder.REF, False, 0, 1_000_000
        )
        comps = [c.ref for c in components if c.ref in index]
        far = (comps[0], comps[-1])
        lengths = rx.digraph_dijkstra_shortest_path_lengths(graph, index[comps[0]], lambda _: 1.0)
        if lengths:
            target = max(lengths, key=lambda node: lengths[node])
            far = (comps[0], graph[target])
        return {
            "hub": hub,
            "hub_dependents": reached,
            "far": far,
            "raw_ms": statistics.median(raw),
            "bfs_ms": statistics.median(bfs),
            "entities": sum((await store.stats()).values()),
            "edges": len(edges),
        }
    finally:
        await store.close()


def hey(url: str, body: str, seconds: int, concurrency: int) -> dict[str, float]:
    """Requests/s, error count and p99 from Debian's ``hey`` at ``concurrency``."""
    if shutil.which("hey") is None:
        raise RuntimeError("hey is not installed: apt-get install hey (make bench does)")
    out = subprocess.run(
        ["hey", "-z", f"{seconds}s", "-c", str(concurrency), "-m", "POST", "-T", "application/json",
         "-d", body, url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    statuses = {int(code): int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    p99 = re.search(r"99%% in ([\d.]+) secs".replace("%%", "%"), out)
    errors = sum(n for code, n in statuses.items() if code != 200)
    errors += sum(int(n) for n in re.findall(r"\[(\d+)\]\s+Get|\[(\d+)\]\s+Post", out) if n)
    return {"rps": rps, "errors": errors, "p99_ms": float(p99.group(1)) * 1000 if p99 else float("nan")}


def bench_size(
    size: int, repeat: int, hey_seconds: int, work: Path, ingest_only: bool = False
) -> dict[str, Any]:
    estate = work / f"estate-{size}"
    console.print(f"[bold]{size:,} components[/]: generating the estate")
    summary = generate_estate(estate, components=size)
    total_entities = sum(summary.counts.values())
    ingest, loader_rss, reload, reload_writes = [], 0, [], 0
    for attempt in range(max(1, repeat if size <= 10_000 else 1)):
        store = work / f"store-{size}-{attempt}"
        shutil.rmtree(store, ignore_errors=True)
        command = [*DEVGRAPH, "load", "files", str(estate), "--store", str(store), "--json",
                   "--no-fetch-remote"]
        console.print(f"  ingest run {attempt + 1}")
        seconds, rss, _ = run_measured(command)
        ingest.append(seconds)
        loader_rss = max(loader_rss, rss)
        seconds, _, out = run_measured(command)
        reload.append(seconds)
        (report,) = json.loads(out)
        reload_writes = report["added"] + report["updated"] + report["removed"]
    ingest_figures = {
        "size": size,
        "entities": total_entities,
        "ingest_entities_per_s": total_entities / statistics.median(ingest),
        "ingest_s": statistics.median(ingest),
        "reload_s": statistics.median(reload),
        "reload_speedup": statistics.median(ingest) / statistics.median(reload),
        "reload_writes": reload_writes,
        "loader_rss_mib": loader_rss,
    }
    if ingest_only:
        return ingest_figures
    store = work / f"store-{size}-0"
    facts = asyncio.run(store_facts(store, repeat=max(5, repeat)))
    console.print(f"  hub {facts['hub']} ({facts['hub_dependents']} dependents); serving")
    figures: dict[str, Any] = {
        **ingest_figures,
        "entities": facts["entities"],
        "edges": facts["edges"],
        "blast_radius_raw_p50_ms": facts["raw_ms"],
        "bfs_p50_ms": facts["bfs_ms"],
    }
    with server(store) as (base, process), httpx.Client(timeout=120) as client:
        some = "component:" + facts["far"][0].split(":", 1)[1]
        cases = {
            "by_ref": ({"query": "query($r: String!) { entity(ref: $r) { ref name } }",
                        "variables": {"r": some}}, 200),
            "first100": ({"query": "{ components(first: 100) { edges { node { ref owner { ref } "
                          "dependsOn { ref } } } } }"}, 30),
            "blast_radius": ({"query": "query($r: String!) { blastRadius(ref: $r) { total "
                              "byOwner { ownerRef count } } }", "variables": {"r": facts["hub"]}}, 10),
            "path": ({"query": "query($a: String!, $b: String!) { dependencyPath(from: $a, to: $b) "
                      "{ found length } }", "variables": {"a": facts["far"][0], "b": facts["far"][1]}}, 20),
        }
        for name, (body, count) in cases.items():
            timed_queries(client, base, body, 3)  # warm caches
            samples = timed_queries(client, base, body, max(count, repeat))
            figures[f"{name}_p50_ms"] = statistics.median(samples)
            figures[f"{name}_p95_ms"] = percentile(samples, 0.95)
        samples = timed_queries(client, base, list_thousand(client, base), max(10, repeat))
        figures["list1000_p50_ms"] = statistics.median(samples)
        figures["list1000_p95_ms"] = percentile(samples, 0.95)
        load = hey(f"{base}/graphql", json.dumps(cases["by_ref"][0]), hey_seconds, 64)
        figures["small_query_rps"] = load["rps"]
        figures["small_query_errors"] = load["errors"]
        figures["small_query_p99_ms"] = load["p99_ms"]
        figures["server_rss_mib"] = peak_rss_mib(process.pid)
    figures["blast_radius_api_over_raw"] = figures["blast_radius_p50_ms"] / facts["raw_ms"]
    figures["blast_radius_over_bfs"] = figures["blast_radius_p50_ms"] / max(facts["bfs_ms"], 1e-6)
    return figures


ROWS = [
    ("ingest_entities_per_s", "ingest (entities/s)", "{:,.0f}"),
    ("reload_speedup", "unchanged re-load speed-up", "{:.1f}x"),
    ("reload_writes", "writes on unchanged re-load", "{}"),
    ("by_ref_p50_ms", "entity(ref:) p50 ms", "{:.2f}"),
    ("first100_p50_ms", "first 100 + owner + deps p50 ms", "{:.1f}"),
    ("list1000_p50_ms", "1,000 listed (10 pages) p50 ms", "{:.1f}"),
    ("blast_radius_p50_ms", "blast radius of top hub p50 ms", "{:.1f}"),
    ("blast_radius_api_over_raw", "  API / raw store", "{:.2f}x"),
    ("blast_radius_over_bfs", "  API / rustworkx BFS", "{:.1f}x"),
    ("path_p50_ms", "dependency path p50 ms", "{:.1f}"),
    ("small_query_rps", "small query req/s (c=64)", "{:,.0f}"),
    ("small_query_errors", "  errors", "{}"),
    ("small_query_p99_ms", "  p99 ms", "{:.1f}"),
    ("server_rss_mib", "server peak RSS MiB", "{:.0f}"),
    ("loader_rss_mib", "loader peak RSS MiB", "{:.0f}"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="components (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--hey-seconds", type=int, default=10, help="duration of the load run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder)")
    parser.add_argument(
        "--only", choices=["ingest"], help="measure only this phase (no server, no queries)"
    )
    args = parser.parse_args(argv)
    sizes = args.size or [10_000]
    work = args.work or Path(tempfile.mkdtemp(prefix="devgraph-bench-"))
    ingest_only = args.only == "ingest"
    results = [bench_size(size, args.repeat, args.hey_seconds, work, ingest_only) for size in sizes]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        payload: Any = results[0] if len(results) == 1 else {"runs": results}
        print(json.dumps({"machine": machine, **payload} if len(results) == 1 else {"machine": machine, **payload}, indent=2))
        return
    table = Table(title=f"devgraph bench ({machine})")
    table.add_column("figure")
    for result in results:
        deps = f", {result['edges']:,} deps" if "edges" in result else ""
        table.add_column(f"{result['size']:,} comp. ({result['entities']:,} ent.{deps})", justify="right")
    for key, label, fmt in ROWS:
        if key in results[0]:
            table.add_row(label, *(fmt.format(r[key]) for r in results))
    Console().print(table)


if __name__ == "__main__":
    main()
