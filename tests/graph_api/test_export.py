"""Dependency graph exports, read back with the tools analysts use (networkx for all three).

The catalog is the one ``tests/graph_api/api/conftest.py`` writes (loaded as a plain module
here, since that conftest does not apply to this folder).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import networkx as nx
import pytest

from graph_api.export import ExportFormat, dependency_digraph, render
from graph_api.store import GraphStore


def shared_catalog() -> ModuleType:
    """``tests/graph_api/api/conftest.py`` as a plain module (its fixtures do not apply here)."""
    name = "devgraph_tests_catalog"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "api" / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


cat = shared_catalog()
DEFINED = sorted([*cat.COMPONENTS_REFS, cat.DB])  # what the export selects: components, resources


@pytest.fixture
async def loaded(store: GraphStore, tmp_path: Path) -> GraphStore:
    await cat.load_catalog(store, tmp_path / "catalog")
    return store


def graphml(graph: nx.DiGraph) -> nx.DiGraph:
    text = render(graph, ExportFormat.GRAPHML)
    assert text.startswith("<?xml")
    parsed = nx.parse_graphml(text)
    assert parsed.is_directed()
    return parsed


def edges(graph: nx.DiGraph) -> list[tuple[str, str]]:
    return sorted(graph.edges())


async def test_whole_catalog_as_graphml(loaded: GraphStore) -> None:
    parsed = graphml(await dependency_digraph(loaded))
    assert sorted(parsed.nodes) == sorted([*DEFINED, cat.LEGACY_LIB])
    assert edges(parsed) == cat.DEPENDS_ON
    for ref in DEFINED:
        data = parsed.nodes[ref]
        assert data["owner"] == cat.OWNERS[ref], ref
        assert data["system"] == cat.SYSTEM_OF.get(ref, ""), ref
        assert data["kind"] == ("Resource" if ref == cat.DB else "Component"), ref
        assert data["resolved"] is True and data["external"] is False, ref
    assert parsed.nodes[cat.MY_SVC]["label"] == "My-Svc"
    assert parsed.nodes[cat.WEB]["type"] == "website"
    assert parsed.nodes[cat.BILLING]["lifecycle"] == "experimental"
    assert parsed.nodes[cat.GATEWAY]["owner"] == "group:default/ghosts"
    # A dependency no source defines is still a node: external and unresolved.
    legacy = parsed.nodes[cat.LEGACY_LIB]
    assert legacy["label"] == "legacy-lib" and legacy["owner"] == ""
    assert legacy["resolved"] is False and legacy["external"] is True
    assert {d["relation"] for _, _, d in parsed.edges(data=True)} == {"dependsOn"}


async def test_whole_catalog_as_json_node_link(loaded: GraphStore) -> None:
    graph = await dependency_digraph(loaded)
    data = json.loads(render(graph, ExportFormat.JSON))
    assert data["directed"] is True
    parsed = nx.node_link_graph(data, edges="edges")
    assert isinstance(parsed, nx.DiGraph)
    assert sorted(parsed.nodes) == sorted([*DEFINED, cat.LEGACY_LIB])
    assert edges(parsed) == cat.DEPENDS_ON
    assert parsed.nodes[cat.AUTH]["owner"] == cat.PLATFORM
    assert parsed.nodes[cat.DB]["kind"] == "Resource"
    assert parsed.nodes[cat.LEGACY_LIB]["external"] is True
    assert dict(parsed.nodes(data=True)) == dict(graph.nodes(data=True))


async def test_whole_catalog_as_dot(loaded: GraphStore) -> None:
    text = render(await dependency_digraph(loaded), ExportFormat.DOT)
    lines = text.splitlines()
    assert lines[0] == "digraph dependencies {" and lines[-1] == "}"
    found_edges = sorted(re.findall(r'^  "([^"]+)" -> "([^"]+)";$', text, re.MULTILINE))
    assert found_edges == cat.DEPENDS_ON
    node_lines = {m[0]: m[1] for m in re.findall(r'^  "([^"]+)" \[(.*)\];$', text, re.MULTILINE)}
    assert sorted(node_lines) == sorted([*DEFINED, cat.LEGACY_LIB])
    assert node_lines[cat.MY_SVC] == 'label="My-Svc"'
    assert "shape=cylinder" in node_lines[cat.DB]
    assert "dashed" in node_lines[cat.LEGACY_LIB]
    assert not any("dashed" in attrs for ref, attrs in node_lines.items() if ref != cat.LEGACY_LIB)


async def test_team_filter_marks_dependencies_outside_it_external(loaded: GraphStore) -> None:
    graph = await dependency_digraph(loaded, team=cat.PAYMENTS)
    parsed = graphml(graph)
    mine = [cat.BILLING, cat.CHECKOUT, cat.INVOICES, cat.ORDERS, cat.WEB]
    assert sorted(parsed.nodes) == sorted([*mine, cat.AUTH, cat.DB])
    assert sorted(r for r, d in parsed.nodes(data=True) if not d["external"]) == mine
    # External dependencies keep their own attributes (they are defined, just not the team's).
    assert dict(parsed.nodes[cat.AUTH]) == {
        "label": "auth",
        "kind": "Component",
        "type": "service",
        "lifecycle": "production",
        "owner": cat.PLATFORM,
        "system": cat.INFRA,
        "resolved": True,
        "external": True,
    }
    assert parsed.nodes[cat.DB]["external"] is True and parsed.nodes[cat.DB]["kind"] == "Resource"
    # Only the team's own dependencies: nothing that merely depends on the team (gateway).
    assert edges(parsed) == sorted(e for e in cat.DEPENDS_ON if e[0] in mine)
    assert cat.GATEWAY not in parsed


async def test_team_filter_with_an_unresolved_dependency(loaded: GraphStore) -> None:
    parsed = graphml(await dependency_digraph(loaded, team=cat.PLATFORM))
    mine = [cat.AUTH, cat.MY_SVC, cat.CRON, cat.DB]
    assert sorted(parsed.nodes) == sorted([*mine, cat.LEGACY_LIB])
    assert edges(parsed) == sorted(
        [(cat.AUTH, cat.DB), (cat.MY_SVC, cat.AUTH), (cat.CRON, cat.LEGACY_LIB)]
    )
    assert parsed.nodes[cat.LEGACY_LIB]["external"] is True
    assert parsed.nodes[cat.LEGACY_LIB]["resolved"] is False
    assert all(parsed.nodes[r]["external"] is False for r in mine)


async def test_system_filter(loaded: GraphStore) -> None:
    infra = await dependency_digraph(loaded, system=cat.INFRA)
    parsed = nx.node_link_graph(json.loads(render(infra, ExportFormat.JSON)), edges="edges")
    assert sorted(parsed.nodes) == sorted([cat.AUTH, cat.GATEWAY, cat.MY_SVC, cat.DB])
    assert not any(d["external"] for _, d in parsed.nodes(data=True))
    assert edges(parsed) == sorted(
        [(cat.AUTH, cat.DB), (cat.GATEWAY, cat.AUTH), (cat.MY_SVC, cat.AUTH)]
    )

    shop = graphml(await dependency_digraph(loaded, system=cat.SHOP))
    assert sorted(r for r, d in shop.nodes(data=True) if d["external"]) == [cat.AUTH, cat.DB]
    assert shop.number_of_nodes() == 7


async def test_a_team_owning_no_components_exports_an_empty_graph(loaded: GraphStore) -> None:
    graph = await dependency_digraph(loaded, team=cat.ORG)  # org owns only the domain
    assert graph.number_of_nodes() == 0
    assert graphml(graph).number_of_nodes() == 0
    assert render(graph, ExportFormat.DOT).count("->") == 0
