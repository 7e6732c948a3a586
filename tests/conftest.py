"""Shared fixtures: real stores in temporary folders, the real Backstage example catalog."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore

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
