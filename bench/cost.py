"""Cost benchmark: FOCUS load speed and memory, and cost query latencies at scale.

``python -m bench.cost [--components 100000] [--rows 1000000] [--repeat 20]`` generates the
demo estate with N components and a year of FOCUS cost in the published CSV layout (about
three lines per resource and day, resources tagged with components by a power law, one line
in ten untagged), then measures, each figure the median of repeated runs:

- ``devgraph load focus`` of the file through the real CLI, with the settings a user has:
  rows/s and the peak RSS of that process (its ``ru_maxrss``), median and worst of the loads;
- an unchanged re-load (it must write nothing);
- a team's 12-month monthly series and ``costReport(groupBy: TEAM)``, in-process GraphQL.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from random import Random
from typing import Any

from bench.__main__ import BENCH_ENV, DEVGRAPH, run_measured
from devgraph.demo import generate_estate
from graph_api.settings import Settings

COLUMNS = (
    "AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingCurrency "
    "BillingPeriodEnd BillingPeriodStart ChargeCategory ChargeClass ChargeDescription "
    "ChargeFrequency ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory "
    "CommitmentDiscountId CommitmentDiscountName CommitmentDiscountStatus "
    "CommitmentDiscountType ConsumedQuantity ConsumedUnit ContractedCost ContractedUnitPrice "
    "EffectiveCost InvoiceIssuerName ListCost ListUnitPrice PricingCategory PricingQuantity "
    "PricingUnit ProviderName PublisherName RegionId RegionName ResourceId ResourceName "
    "ResourceType ServiceCategory ServiceName SkuId SkuPriceId SubAccountId SubAccountName Tags "
    "x_ServiceCode x_UsageType"
).split()
SKUS = (
    ("Compute", "Amazon Elastic Compute Cloud", "BoxUsage:m7g.large", "Hrs", 0.0816),
    ("Storage", "Amazon Simple Storage Service", "TimedStorage-ByteHrs", "GB-Mo", 0.023),
    ("Networking", "AWS Data Transfer", "DataTransfer-Out-Bytes", "GB", 0.09),
)
START = date(2025, 1, 1)
# `devgraph load files` of a 100k-component estate fails with the default 1 GiB page cache
# ("the buffer pool is full"); the estate only sets the scene for the measured cost load, so
# it is loaded with a larger one.
SETUP_BUFFER_POOL_MIB = "8192"


def write_focus(path: Path, components: list[str], rows: int, seed: int = 11) -> None:
    """A year of daily FOCUS lines: ``rows / 365 / 3`` resources, three SKUs each."""
    rng = Random(seed)
    resources = max(1, rows // (365 * len(SKUS)))
    # Power law: a few components own many resources.
    owners = [
        components[
            min(int(rng.paretovariate(1.2)) - 1, len(components) - 1) * 7919 % len(components)
        ]
        for _ in range(resources)
    ]
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        day = 0
        while written < rows:
            current = START + timedelta(days=day % 365)
            start = f"{current.isoformat()}T00:00:00Z"
            end = f"{(current + timedelta(days=1)).isoformat()}T00:00:00Z"
            period = f"{current.replace(day=1).isoformat()}T00:00:00Z"
            for index in range(resources):
                for category, service, usage, unit, price in SKUS:
                    if written >= rows:
                        break
                    quantity = round(rng.uniform(1, 48), 4)
                    cost = f"{quantity * price:.10f}"
                    tags = "" if index % 10 == 0 else json.dumps({"service": owners[index]})
                    row = dict.fromkeys(COLUMNS, "")
                    row.update(
                        BilledCost=cost,
                        EffectiveCost=cost,
                        ListCost=cost,
                        ContractedCost=cost,
                        BillingAccountId="111111111111",
                        BillingCurrency="USD",
                        BillingPeriodStart=period,
                        ChargePeriodStart=start,
                        ChargePeriodEnd=end,
                        ChargeCategory="Usage",
                        ChargeFrequency="Usage-Based",
                        ConsumedQuantity=str(quantity),
                        ConsumedUnit=unit,
                        PricingUnit=unit,
                        ProviderName="AWS",
                        PublisherName="AWS",
                        InvoiceIssuerName="AWS",
                        RegionId="eu-west-1",
                        ResourceId=f"arn:aws:ec2:eu-west-1:1:r/{index}",
                        ServiceCategory=category,
                        ServiceName=service,
                        SkuId=usage,
                        SubAccountId=f"2222222222{index % 7:02d}",
                        Tags=tags,
                        x_UsageType=usage,
                    )
                    writer.writerow([row[c] for c in COLUMNS])
                    written += 1
            day += 1


async def query_latencies(store_dir: Path, repeat: int) -> dict[str, float]:
    """p50 ms of a team's 12-month monthly series and of costReport by team."""
    from graph_api.api.context import RequestContext
    from graph_api.api.schema import build_schema
    from graph_api.security import Policy, Viewer
    from graph_api.store.embedded import EmbeddedStore

    # The page cache `devgraph serve` would have.
    store = EmbeddedStore(store_dir, buffer_pool_mib=Settings().store_buffer_pool_mib)
    await store.open()
    schema = build_schema()
    admin = Viewer.local_admin("bench")
    window = f'from: "{START}", to: "{date(START.year, 12, 31)}"'

    async def run(query: str) -> Any:
        context = RequestContext(store=store, viewer=admin, policy=Policy(store))
        result = await schema.execute(query, context_value=context)
        if result.errors:
            raise RuntimeError(result.errors)
        return result.data

    async def timed(query: str) -> float:
        samples = []
        await run(query)  # warm
        for _ in range(repeat):
            started = time.perf_counter()
            await run(query)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    try:
        report = await run(f"{{ costReport(groupBy: TEAM, {window}) {{ rows {{ key }} }} }}")
        team = report["costReport"]["rows"][0]["key"]
        series = (
            f'{{ group(ref: "{team}") {{ cost({window}) {{ series(granularity: MONTH) '
            "{ period amount } } } }"
        )
        return {
            "team": team,  # type: ignore[dict-item]
            "teams_with_cost": len(report["costReport"]["rows"]),
            "team_series_p50_ms": await timed(series),
            "cost_report_team_p50_ms": await timed(
                f"{{ costReport(groupBy: TEAM, {window}) {{ rows {{ key currency amount }} "
                "unallocated { amount } total { amount } } }"
            ),
        }
    finally:
        await store.close()


def load_catalog(estate: Path, store: Path) -> None:
    """The demo estate into a fresh store, unmeasured."""
    done = subprocess.run(
        [*DEVGRAPH, "load", "files", str(estate), "--store", str(store), "--json"]
        + ["--no-fetch-remote"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **BENCH_ENV, "DEVGRAPH_STORE_BUFFER_POOL_MIB": SETUP_BUFFER_POOL_MIB},
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"loading the estate failed: {done.stderr.strip()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--components", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--loads", type=int, default=3, help="FOCUS loads to take the median of")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="devgraph-bench-cost-"))
    estate = work / "estate"
    print(
        f"generating {args.components:,} components and {args.rows:,} FOCUS rows in {work}",
        file=sys.stderr,
    )
    generate_estate(estate, components=args.components)
    components = [
        line.split(":", 1)[1].strip()
        for file in sorted(estate.rglob("components*.yaml"))
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.startswith("  name:")
    ]
    focus = work / "focus-2025.csv"
    write_focus(focus, components, args.rows)
    figures: dict[str, Any] = {
        "components": args.components,
        "rows": args.rows,
        "file_mib": focus.stat().st_size / 2**20,
    }
    seconds_list, rss_list = [], []
    for attempt in range(args.loads):
        store = work / f"store-{attempt}"
        load_catalog(estate, store)
        seconds, rss, out = run_measured(
            [*DEVGRAPH, "load", "focus", str(focus), "--store", str(store), "--json"]
        )
        (report,) = json.loads(out)
        if report["errors"]:
            raise RuntimeError(report["errors"][:3])
        seconds_list.append(seconds)
        rss_list.append(rss)
        figures["facts"] = report["facts"]
        figures["unallocated"] = report["unallocated"]
    seconds = statistics.median(seconds_list)
    figures["load_s"] = seconds
    figures["rows_per_s"] = args.rows / seconds
    figures["load_peak_rss_mib"] = statistics.median(rss_list)
    figures["load_peak_rss_mib_max"] = max(rss_list)
    figures["load_peak_rss_mib_each"] = rss_list
    store = work / "store-0"
    started = time.perf_counter()
    _, _, out = run_measured(
        [*DEVGRAPH, "load", "focus", str(focus), "--store", str(store), "--json"]
    )
    figures["reload_s"] = time.perf_counter() - started
    figures["reload_changed"] = json.loads(out)[0]["changed"]
    print(json.dumps(figures, indent=2, default=str), flush=True)
    print(json.dumps(asyncio.run(query_latencies(store, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
