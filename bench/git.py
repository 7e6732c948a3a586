"""Benchmark of the git loader: ``python -m bench.git [--descriptors 10000] [--repos 1000]``.

Two figures, each the median of ``--repeats`` runs on repositories made here with real git:

- first load of a monorepo of N descriptors (each beside a manifest every tenth folder, with a
  CODEOWNERS file and READMEs), in-process into a fresh embedded store: entities per second;
- an unchanged re-run over M repositories through the real CLI (``devgraph load git``, a list
  file), process start included: seconds. Every repository must be skipped unread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graph_api.store.embedded import EmbeddedStore
from loaders.git import GitLoadOptions, load_git

console = Console(stderr=True)
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
DESCRIPTOR = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  description: Service {name}
  tags: [bench]
spec:
  type: service
  lifecycle: production
  owner: team-{team}
  dependsOn: [component:{dependency}]
"""


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def make_monorepo(path: Path, size: int) -> None:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    (path / "CODEOWNERS").write_text("* @acme/platform\n/services/ @acme/services\n")
    for i in range(size):
        folder = path / "services" / f"svc-{i:05d}"
        folder.mkdir(parents=True)
        text = DESCRIPTOR.format(
            name=f"svc-{i:05d}", team=i % 50, dependency=f"svc-{(i + 1) % size:05d}"
        )
        (folder / "catalog-info.yaml").write_text(text)
        if i % 10 == 0:
            (folder / "requirements.txt").write_text(f"requests==2.31.{i % 7}\nflask>=2\n")
            (folder / "README.md").write_text(f"# svc-{i:05d}\n\nDoes things.\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "monorepo", cwd=path)


def make_repositories(root: Path, count: int) -> list[Path]:
    repos = []
    for i in range(count):
        repo = root / f"repo-{i:04d}"
        repo.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=repo)
        (repo / "catalog-info.yaml").write_text(
            DESCRIPTOR.format(name=f"r{i:04d}", team=i % 50, dependency=f"r{(i + 1) % count:04d}")
        )
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "init", cwd=repo)
        repos.append(repo)
    return repos


async def load_once(store_path: Path, repos: list[str], cache: Path) -> float:
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        start = time.perf_counter()
        reports = await load_git(store, repos, GitLoadOptions(cache=cache, fetch_remote=False))
        elapsed = time.perf_counter() - start
        if not all(r.ok for r in reports):
            raise RuntimeError(json.dumps([r.summary() for r in reports])[:2000])
        return elapsed
    finally:
        await store.close()


def cli(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "devgraph.cli", *args], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"devgraph {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
        )
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--descriptors", type=int, default=10_000)
    parser.add_argument("--repos", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="devgraph-bench-git-") as tmp:
        root = Path(tmp)
        console.print(f"making a monorepo of {args.descriptors} descriptors ...")
        mono = root / "mono"
        make_monorepo(mono, args.descriptors)
        loads = [
            asyncio.run(load_once(root / f"store-mono-{n}", [str(mono)], root / "cache"))
            for n in range(args.repeats)
        ]
        load_s = statistics.median(loads)
        console.print(f"making {args.repos} repositories ...")
        repos = make_repositories(root / "many", args.repos)
        listing = root / "repos.txt"
        listing.write_text("\n".join(str(r) for r in repos) + "\n")
        store = root / "store-many"
        first_s, _ = cli("load", "git", str(listing), "--store", str(store), "--json")
        reruns = []
        for _ in range(args.repeats):
            elapsed, out = cli("load", "git", str(listing), "--store", str(store), "--json")
            if any(r["skipped"] != "HEAD unchanged" for r in json.loads(out)):
                raise RuntimeError("an unchanged repository was read again")
            reruns.append(elapsed)
        rerun_s = statistics.median(reruns)
    figures = {
        "monorepo_descriptors": args.descriptors,
        "monorepo_load_s": round(load_s, 3),
        "monorepo_entities_per_s": round(args.descriptors / load_s),
        "repos": args.repos,
        "repos_first_load_s": round(first_s, 3),
        "repos_unchanged_rerun_s": round(rerun_s, 3),
        "targets": {"monorepo_entities_per_s": ">= 5000", "repos_unchanged_rerun_s": "<= 5"},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    table = Table(title=f"git loader (median of {args.repeats})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row(f"monorepo of {args.descriptors} descriptors, first load", f"{load_s:.2f} s", "")
    table.add_row("  entities per second", f"{figures['monorepo_entities_per_s']:,}", ">= 5,000")
    table.add_row(f"{args.repos} repositories, first load (CLI)", f"{first_s:.2f} s", "")
    table.add_row(
        f"{args.repos} repositories, unchanged re-run (CLI)", f"{rerun_s:.2f} s", "<= 5 s"
    )
    Console().print(table)


if __name__ == "__main__":
    main()
