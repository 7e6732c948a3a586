"""The devgraph CLI as people and scripts use it, against a real store folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from devgraph.cli import app

runner = CliRunner()

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
spec:
  type: website
  lifecycle: production
  owner: team-a
  system: shop
  dependsOn: [component:api, resource:db]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: api
spec:
  type: service
  lifecycle: production
  owner: team-b
  system: shop
  dependsOn: [resource:db]
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: db
spec:
  type: database
  owner: team-b
  system: shop
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: shop
spec:
  owner: team-a
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


def test_load_files_json_summary_and_rerun(catalog: Path, store_dir: Path) -> None:
    first = runner.invoke(app, ["load", "files", str(catalog), "--store", str(store_dir), "--json"])
    assert first.exit_code == 0, first.output
    (summary,) = json.loads(first.stdout)
    assert (summary["added"], summary["unchanged"], summary["rejected"]) == (4, 0, [])
    again = runner.invoke(app, ["load", "files", str(catalog), "--store", str(store_dir), "--json"])
    (summary,) = json.loads(again.stdout)
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (0, 0, 4)


def test_load_files_rejection_exits_1_with_file_and_line(catalog: Path, store_dir: Path) -> None:
    catalog.write_text(catalog.read_text().replace("name: api", "name: bad name"), encoding="utf-8")
    result = runner.invoke(app, ["load", "files", str(catalog), "--store", str(store_dir)])
    assert result.exit_code == 1
    assert f"{catalog}:12: metadata.name" in result.stderr
    query = runner.invoke(app, ["query", "{ entities { totalCount } }", "--store", str(store_dir)])
    assert json.loads(query.stdout)["data"]["entities"]["totalCount"] == 3


def test_query_with_variables_and_errors(catalog: Path, store_dir: Path) -> None:
    runner.invoke(app, ["load", "files", str(catalog), "--store", str(store_dir)])
    result = runner.invoke(
        app,
        [
            "query",
            "query($r: String!) { component(ref: $r) { name owner { ref } dependsOn { ref } } }",
            "--variables",
            '{"r": "web"}',
            "--store",
            str(store_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    web = json.loads(result.stdout)["data"]["component"]
    assert web["owner"] == {"ref": "group:default/team-a"}
    assert sorted(d["ref"] for d in web["dependsOn"]) == ["component:default/api", "resource:default/db"]
    bad = runner.invoke(app, ["query", "{ nope }", "--store", str(store_dir)])
    assert bad.exit_code == 1
    errors = json.loads(bad.stdout)["errors"]
    assert "nope" in errors[0]["message"] and "Traceback" not in bad.output
    not_json = runner.invoke(app, ["query", "{ entities { totalCount } }", "--variables", "{x"])
    assert not_json.exit_code == 2


def test_export_graph_formats(catalog: Path, store_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["load", "files", str(catalog), "--store", str(store_dir)])
    out = tmp_path / "deps.graphml"
    result = runner.invoke(
        app, ["export", "graph", "--format", "graphml", "-o", str(out), "--store", str(store_dir)]
    )
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(out)
    assert set(graph.nodes) == {"component:default/web", "component:default/api", "resource:default/db"}
    assert set(graph.edges) == {
        ("component:default/web", "component:default/api"),
        ("component:default/web", "resource:default/db"),
        ("component:default/api", "resource:default/db"),
    }
    assert graph.nodes["resource:default/db"]["owner"] == "group:default/team-b"
    dot = runner.invoke(
        app, ["export", "graph", "--format", "dot", "--team", "team-a", "--store", str(store_dir)]
    )
    assert dot.stdout.startswith("digraph dependencies {")
    assert '"component:default/web" -> "component:default/api";' in dot.stdout


def test_entry_point_runs_as_a_command(catalog: Path, store_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devgraph.cli", "load", "files", str(catalog), "--store", str(store_dir), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["added"] == 4
