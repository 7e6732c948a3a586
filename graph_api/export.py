"""Dependency graph exports that analysts' tools open: GraphML (Gephi, yEd), DOT (Graphviz),
and JSON node-link (networkx, D3)."""

from __future__ import annotations

import io
import json
from enum import Enum

import networkx as nx

from graph_api.model import RelationType
from graph_api.store import Direction, EntityFilter, EntityOrder, EntityRecord, GraphStore

EXPORT_KINDS = ["component", "resource"]
_ALL = 10_000_000


class ExportFormat(str, Enum):
    GRAPHML = "graphml"
    DOT = "dot"
    JSON = "json"


MEDIA_TYPES = {
    ExportFormat.GRAPHML: "application/graphml+xml",
    ExportFormat.DOT: "text/vnd.graphviz",
    ExportFormat.JSON: "application/json",
}


async def dependency_digraph(
    store: GraphStore, *, system: str | None = None, team: str | None = None
) -> nx.DiGraph:
    """Components and resources (optionally of one system or owning team) and their
    ``dependsOn`` edges; dependencies outside the selection are included, marked external."""
    records, _ = await store.find_entities(
        EntityFilter(kinds=EXPORT_KINDS, system=system, owner=team),
        EntityOrder.REF,
        False,
        0,
        _ALL,
    )
    graph = nx.DiGraph()
    for record in records:
        graph.add_node(record.ref, **_attributes(record, external=False))
    if system is None and team is None:
        edges = await store.all_edges(RelationType.DEPENDS_ON)
        for source, target in edges:
            if target not in graph:
                graph.add_node(target, **_external(target))
            if source not in graph:
                graph.add_node(source, **_external(source))
            graph.add_edge(source, target, relation="dependsOn")
        return graph
    related = await store.related([r.ref for r in records], RelationType.DEPENDS_ON, Direction.OUT)
    outside = sorted({t for targets in related.values() for t in targets if t not in graph})
    for target in await store.get_entities(outside):
        if target is not None:
            graph.add_node(target.ref, **_attributes(target, external=True))
    for source, targets in related.items():
        for target_ref in targets:
            graph.add_edge(source, target_ref, relation="dependsOn")
    return graph


def _attributes(record: EntityRecord, *, external: bool) -> dict[str, str | bool]:
    return {
        "label": record.name,
        "kind": record.kind,
        "type": record.type or "",
        "lifecycle": record.lifecycle or "",
        "owner": record.owner or "",
        "system": record.system or "",
        "resolved": not record.stub,
        "external": external,
    }


def _external(ref: str) -> dict[str, str | bool]:
    kind, _, rest = ref.partition(":")
    name = rest.rpartition("/")[2]
    return {
        "label": name,
        "kind": kind,
        "type": "",
        "lifecycle": "",
        "owner": "",
        "system": "",
        "resolved": False,
        "external": True,
    }


def render(graph: nx.DiGraph, fmt: ExportFormat) -> str:
    """Serialise ``graph`` in ``fmt``."""
    if fmt is ExportFormat.GRAPHML:
        buffer = io.BytesIO()
        nx.write_graphml(graph, buffer, encoding="utf-8")
        return buffer.getvalue().decode()
    if fmt is ExportFormat.JSON:
        data = nx.node_link_data(graph, edges="edges")
        return json.dumps(data, indent=1, sort_keys=True)
    return _dot(graph)


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(graph: nx.DiGraph) -> str:
    lines = ["digraph dependencies {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for ref, data in sorted(graph.nodes(data=True)):
        style = ', style="rounded,dashed"' if data.get("external") else ""
        shape = ", shape=cylinder" if data.get("kind", "").lower() == "resource" else ""
        lines.append(f"  {_dot_id(ref)} [label={_dot_id(str(data.get('label', ref)))}{shape}{style}];")
    for source, target in sorted(graph.edges()):
        lines.append(f"  {_dot_id(source)} -> {_dot_id(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
