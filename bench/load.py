"""Load test of a real ``devgraph serve``: throughput, latency and refusals under concurrency.

``python -m bench.load [--seconds 30] [--concurrency 64] [--components 300]`` generates the
demo estate, loads it, creates an API token, and for each of two phases starts ``devgraph
serve`` on 127.0.0.1 and drives it with ``wrk`` (a Lua script rotating a mix of small queries):

1. rate limiting ON with the production defaults, one token: most requests are refused with
   429 once the burst is spent; those 429s are intended;
2. rate limiting OFF: the raw capacity of one server process.

Each phase reports requests/s, p50/p99 latency, 2xx, 429 and any other outcome (other
statuses, socket errors and timeouts, GraphQL errors in a 200), and the server's peak RSS. The
exit status is 1 when anything other than a 2xx or an intended 429 happened, 2 when wrk is
missing. Everything listens on loopback and every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devgraph.demo import generate_estate
from graph_api.security.tokens import create_token
from graph_api.settings import RateLimit
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

HOST = "127.0.0.1"
READY_DEADLINE_S = 60.0
# wrk's default of 2 s would count a slow answer as a socket error rather than as latency.
REQUEST_TIMEOUT_S = 10
WRK_MISSING = (
    "wrk is not installed. Install it with `apt-get install wrk` (Debian/Ubuntu) or "
    "`brew install wrk` (macOS), then run again."
)
MIX = [
    {
        "query": "query($r: String!) { entity(ref: $r) { ref name } }",
        "variables": {"r": "auth-service"},
    },
    {
        "query": "query($r: String!) { component(ref: $r) { ref owner { ref } "
        "dependsOn { ref } } }",
        "variables": {"r": "checkout-api"},
    },
    {"query": "{ components(first: 10) { totalCount edges { node { ref lifecycle } } } }"},
    {"query": "{ catalogStats { kind count } }"},
    {"query": "{ systems(first: 5) { edges { node { ref owner { ref } } } } }"},
]
# Rotates the mix over every connection, counts statuses and GraphQL errors per thread, and
# prints one JSON line at the end (wrk's own summary does not split statuses).
LUA = """
local bodies = {%(bodies)s}
local requests, threads = {}, {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses, graphql_errors, n = {}, 0, 0
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. args[1]}
  for i, body in ipairs(bodies) do requests[i] = wrk.format("POST", nil, headers, body) end
end
function request() n = n + 1; return requests[n %% #requests + 1] end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 and string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end
function done(summary, latency, requests)
  local out = {statuses = {}, graphql_errors = 0}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      out.statuses[tostring(status)] = (out.statuses[tostring(status)] or 0) + count
    end
    out.graphql_errors = out.graphql_errors + thread:get("graphql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"socket_errors": %%d, "timeouts": %%d, "graphql_errors": %%d, "statuses": {',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.timeout, out.graphql_errors))
  local first = true
  for status, count in pairs(out.statuses) do
    io.write(string.format('%%s"%%s": %%d', first and "" or ", ", status, count))
    first = false
  end
  io.write("}}\\n")
end
"""


@dataclass(frozen=True)
class PhaseResult:
    """What one wrk run against one server saw."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: int
    timeouts: int
    graphql_errors: int
    peak_rss_mib: float
    limit: RateLimit | None

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def throttled(self) -> int:
        """429s, intended only while rate limiting is on."""
        return self.statuses.get(429, 0) if self.limit else 0

    @property
    def other(self) -> int:
        """Every outcome that is neither a 2xx nor an intended 429."""
        refused = sum(self.statuses.values()) - self.ok - self.throttled
        return refused + self.socket_errors + self.timeouts + self.graphql_errors


async def prepare(work: Path, components: int) -> tuple[Path, str]:
    """The demo estate loaded into a fresh store, and a viewer token's secret."""
    summary = generate_estate(work / "estate", components=components)
    store_path = work / "store"
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        (report,) = await load_files(store, [summary.location], fetch_remote=False)
        if not report.ok:
            raise RuntimeError(f"the demo estate did not load cleanly: {report.rejected[:3]}")
        _, secret = await create_token(
            store, name="bench-load", team=None, role="viewer", expires_at=None
        )
    finally:
        await store.close()
    return store_path, secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@contextmanager
def server(
    store: Path, work: Path, *, rate_limit: bool
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``devgraph serve`` on loopback with production settings; yields once /readyz answers."""
    port = free_port()
    # Production defaults: no DEVGRAPH_* from the caller's environment, no devgraph.toml (the
    # server runs in the scratch folder); only the rate-limit switch differs between phases.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVGRAPH_")}
    env["DEVGRAPH_RATE_LIMIT__ENABLED"] = "true" if rate_limit else "false"
    log = work / f"server-{'limited' if rate_limit else 'unlimited'}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devgraph.cli",
                "serve",
                "--store",
                str(store),
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + READY_DEADLINE_S
        while not _ready(base):
            if process.poll() is not None:
                raise RuntimeError(f"devgraph serve exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"devgraph serve not ready in {READY_DEADLINE_S:.0f} s; see {log}"
                )
            time.sleep(0.05)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def check_mix(base: str, secret: str) -> None:
    """Every query of the mix answers without errors: a load test of errors measures nothing."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        for body in MIX:
            response = client.post("/graphql", json=body)
            if response.status_code != 200 or "errors" in response.json():
                raise RuntimeError(f"{body['query']!r} failed: {response.text[:300]}")


def lua_script(work: Path) -> Path:
    bodies = ", ".join(f"[==[{json.dumps(body)}]==]" for body in MIX)
    script = work / "mix.lua"
    script.write_text(LUA % {"bodies": bodies}, encoding="utf-8")
    return script


def run_wrk(base: str, secret: str, script: Path, seconds: int, concurrency: int) -> dict[str, Any]:
    # wrk's threads share the machine with the server: half the cores, at most one per connection.
    threads = max(1, min(concurrency, (os.cpu_count() or 2) // 2))
    done = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{seconds}s",
            "--timeout",
            f"{REQUEST_TIMEOUT_S}s",
            "-s",
            str(script),
            f"{base}/graphql",
            "--",
            secret,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line.removeprefix("WRK_RESULT "))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")


def phase(
    name: str,
    store: Path,
    secret: str,
    work: Path,
    *,
    rate_limit: bool,
    seconds: int,
    concurrency: int,
) -> PhaseResult:
    print(
        f"{name}: serving, then {seconds} s of load at concurrency {concurrency}", file=sys.stderr
    )
    with server(store, work, rate_limit=rate_limit) as (base, process):
        check_mix(base, secret)
        raw = run_wrk(base, secret, lua_script(work), seconds, concurrency)
        rss = peak_rss_mib(process.pid)
    return PhaseResult(
        name=name,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        statuses={int(status): count for status, count in raw["statuses"].items()},
        socket_errors=raw["socket_errors"],
        timeouts=raw["timeouts"],
        graphql_errors=raw["graphql_errors"],
        peak_rss_mib=rss,
        limit=RateLimit() if rate_limit else None,
    )


def report(results: list[PhaseResult]) -> list[str]:
    """Print the figures; return what went wrong."""
    problems = []
    for r in results:
        print(f"\n== {r.name}")
        print(
            f"requests/s           {r.requests / r.seconds:,.0f}  "
            f"({r.requests:,} in {r.seconds:.1f} s)"
        )
        print(f"latency p50 / p99    {r.p50_ms:.1f} ms / {r.p99_ms:.1f} ms")
        print(f"2xx                  {r.ok:,}")
        if r.limit is not None:
            # A token bucket lets through at most its burst plus what it refills in the run.
            bound = r.limit.burst + r.limit.per_minute / 60 * r.seconds
            print(
                f"  limiter allows     {bound:,.0f} (burst {r.limit.burst} + "
                f"{r.limit.per_minute}/min over {r.seconds:.1f} s)"
            )
            print(f"429 (intended)       {r.throttled:,}")
            if r.ok > bound * 1.02 + 1:
                problems.append(f"{r.name}: {r.ok} answered, over the limiter's {bound:.0f}")
        print(
            f"anything else        {r.other:,}  (statuses {r.statuses}, socket errors "
            f"{r.socket_errors}, timeouts {r.timeouts}, GraphQL errors {r.graphql_errors})"
        )
        print(f"server peak RSS      {r.peak_rss_mib:.0f} MiB")
        if r.other:
            problems.append(f"{r.name}: {r.other} responses other than 2xx or an intended 429")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=int, default=30, help="load duration per phase")
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument("--components", type=int, default=300, help="size of the demo estate")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="devgraph-load-") as scratch:
        work = Path(scratch)
        store, secret = asyncio.run(prepare(work, args.components))
        results = [
            phase(
                "rate limiting ON (production defaults, one token)",
                store,
                secret,
                work,
                rate_limit=True,
                seconds=args.seconds,
                concurrency=args.concurrency,
            ),
            phase(
                "rate limiting OFF (raw capacity)",
                store,
                secret,
                work,
                rate_limit=False,
                seconds=args.seconds,
                concurrency=args.concurrency,
            ),
        ]
        problems = report(results)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
