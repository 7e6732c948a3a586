"""kill -9 of a loader in the middle of a large load: the store opens, the interrupted
source is all there or not there at all, and a re-run completes the load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from graph_api.store import EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

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
        [sys.executable, "-m", "devgraph.cli", "load", "files", str(big.parent), "--store", str(store_dir)],
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
