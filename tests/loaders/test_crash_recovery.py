"""kill -9 of a loader in the middle of a large load: the store opens, the interrupted
source is all there or not there at all, and a re-run completes the load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from graph_api.model.cost import CostDimension, CostMetric
from graph_api.store import CostFilter, EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files
from tests.loaders.cloud.conftest import focus_csv, line

BIG = 10_000


def write_catalog(path: Path, prefix: str, count: int) -> Path:
    docs = [
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {prefix}{i}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: team-{i % 40}\n"
        f"  dependsOn: [component:{prefix}{(i * 7 + 1) % count}]\n"
        for i in range(count)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n".join(docs), encoding="utf-8")
    return path


async def count_with_prefix(store: EmbeddedStore, prefix: str) -> int:
    _, total = await store.find_entities(
        EntityFilter(kinds=["component"], text=prefix), EntityOrder.REF, False, 0, 0
    )
    return total


async def test_kill_during_load_leaves_all_or_nothing(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    base = write_catalog(tmp_path / "base" / "c.yaml", "base-", 50)
    big = write_catalog(tmp_path / "big" / "c.yaml", "big-", BIG)
    store = EmbeddedStore(store_dir)
    await store.open()
    await load_files(store, [base.parent])
    await store.close()

    loader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devgraph.cli",
            "load",
            "files",
            str(big.parent),
            "--store",
            str(store_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = store_dir / "catalog.lbug.wal"
    deadline = time.monotonic() + 120
    # The write-ahead log grows while the transaction writes: kill inside it.
    while time.monotonic() < deadline and loader.poll() is None:
        if wal.exists() and wal.stat().st_size > 256 * 1024:
            break
        time.sleep(0.01)
    assert loader.poll() is None, "the loader finished before it could be killed mid-load"
    os.kill(loader.pid, signal.SIGKILL)
    loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL

    store = EmbeddedStore(store_dir)
    await store.open()
    try:
        assert await count_with_prefix(store, "base-") == 50
        assert await count_with_prefix(store, "big-") in (0, BIG)
        (report,) = await load_files(store, [big.parent])
        assert report.ok
        assert await count_with_prefix(store, "big-") == BIG
        assert await count_with_prefix(store, "base-") == 50
    finally:
        await store.close()


# A load that commits and dies before the database checkpoints: what it wrote must come back
# from the write-ahead log. (Ladybug leaves a COPY inside a transaction out of the log, which
# is why no store write uses COPY.) The subprocess turns automatic checkpoints off, so the
# log is all there is when it exits without closing anything, as kill -9 would.
COMMIT_THEN_DIE = """
import asyncio, functools, os, sys
from pathlib import Path
import ladybug
ladybug.Database = functools.partial(ladybug.Database, auto_checkpoint=False)
from graph_api.settings import CostAttribution
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import Catalog, load_focus
from loaders.files import load_files
from loaders.findings.load import load_sarif

async def main(store_dir, catalog, focus, sarif):
    store = EmbeddedStore(store_dir)
    await store.open()
    (files,) = await load_files(store, [catalog])
    (cost,) = await load_focus(store, [focus], await Catalog.load(store, CostAttribution()))
    (found,) = await load_sarif(store, [sarif], entity="component:svc-1")
    assert files.ok and not cost.errors and found.error is None, (files, cost, found)
    os._exit(0)

asyncio.run(main(*map(Path, sys.argv[1:])))
"""


async def test_committed_loads_survive_a_death_before_the_checkpoint(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog" / "c.yaml", "svc-", 20)
    focus = tmp_path / "focus.csv"
    focus.write_text(
        focus_csv(
            [
                line(
                    f"2026-10-{day:02d}T00:00:00Z", f"{day}.25", tags=f'{{"service": "svc-{day}"}}'
                )
                for day in range(1, 11)
            ]
        ),
        encoding="utf-8",
    )
    sarif = tmp_path / "scan.sarif"
    results = [
        {"ruleId": f"R{i}", "level": "error", "message": {"text": f"finding {i}"}} for i in range(5)
    ]
    run = {"tool": {"driver": {"name": "scanner"}}, "results": results}
    sarif.write_text(json.dumps({"version": "2.1.0", "runs": [run]}), encoding="utf-8")
    store_dir = tmp_path / "store"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            COMMIT_THEN_DIE,
            *map(str, (store_dir, catalog.parent, focus, sarif)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (store_dir / "catalog.lbug.wal").exists(), "died before any checkpoint"
    store = EmbeddedStore(store_dir)
    await store.open()
    try:
        assert await count_with_prefix(store, "svc-") == 20
        amounts = await store.cost_amounts(
            CostFilter(date(2026, 1, 1), date(2026, 12, 31)),
            [CostDimension.ENTITY],
            CostMetric.BILLED,
        )
        assert sum(a.amount for a in amounts) == sum(Decimal(f"{d}.25") for d in range(1, 11))
        assert len(amounts) == 10
        found = await store.findings_of(["component:default/svc-1"])
        assert len(found["component:default/svc-1"]) == 5
    finally:
        await store.close()
