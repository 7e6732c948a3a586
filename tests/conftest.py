"""Shared fixtures: real stores in temporary folders, the real Backstage example catalog."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore

if TYPE_CHECKING:
    from _server import DemoServer

ROOT = Path(__file__).resolve().parent.parent
BACKSTAGE_EXAMPLES = ROOT.parent / "shared" / "data" / "backstage-examples"


def _store_params() -> list[object]:
    neo4j_reason = "NEO4J_URI is not set: the Neo4j store suite runs only against a live Neo4j"
    return [
        pytest.param("embedded", id="embedded"),
        pytest.param(
            "neo4j",
            id="neo4j",
            marks=pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason=neo4j_reason),
        ),
    ]


@pytest.fixture(params=_store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GraphStore]:
    """An open, empty store of each kind."""
    if request.param == "neo4j":
        from graph_api.store.neo4j import Neo4jStore

        graph: GraphStore = Neo4jStore(
            os.environ["NEO4J_URI"],
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
        )
        await graph.open()
        await graph.clear()  # type: ignore[attr-defined]
    else:
        graph = EmbeddedStore(tmp_path / "store")
        await graph.open()
    try:
        yield graph
    finally:
        await graph.close()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    """An open, empty embedded store (for tests that count its calls or reopen it)."""
    graph = EmbeddedStore(tmp_path / "store")
    await graph.open()
    try:
        yield graph
    finally:
        await graph.close()


@pytest.fixture
def backstage_examples() -> Path:
    """Backstage's own example catalog, as published; skipped where ../shared is absent."""
    if not (BACKSTAGE_EXAMPLES / "all.yaml").is_file():
        pytest.skip(f"Backstage examples not found at {BACKSTAGE_EXAMPLES} (../shared absent)")
    return BACKSTAGE_EXAMPLES


# Commits made by tests: a fixed identity, and no global or system git config read.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev Tester",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev Tester",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A real git repository in a temporary folder: write files, commit, remove, clone."""

    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), "-c", "user.name=Dev Tester",
             "-c", "user.email=dev@example.com", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV, **(env or {})},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def write(self, name: str, text: str) -> GitRepo:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return self

    def remove(self, name: str) -> GitRepo:
        (self.path / name).unlink()
        return self

    def commit(self, message: str = "change", *, author: str | None = None) -> str:
        """Commit everything; ``author`` is an e-mail to commit as. Returns the new HEAD."""
        self.git("add", "-A")
        env = {"GIT_AUTHOR_EMAIL": author} if author else None
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """Make real git repositories under the test's temporary folder."""

    def make(name: str, *, bare: bool = False) -> GitRepo:
        return GitRepo(tmp_path / "repos" / name, bare=bare)

    return make


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo estate (50 components) under a real uvicorn server, one per test module, so
    one module's mutations never reach another's assertions."""
    # Imported here: the app is imported only by the modules that serve it, so a broken app
    # fails those, not the collection of the whole suite.
    from _server import serve_demo

    with serve_demo(tmp_path_factory.mktemp("demo")) as served:
        yield served
