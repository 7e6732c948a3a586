"""Dependency exploration over the catalog graph: subgraphs, blast radius, paths, cycles.

Traversals run in the store (one query each); only cycle finding, which needs strongly
connected components, runs here on the dependency edges the store returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import networkx as nx

from graph_api.model import RelationType
from graph_api.store import (
    Direction,
    EntityFilter,
    EntityOrder,
    EntityRecord,
    GraphStore,
    ReachGroup,
    Reached,
)

MAX_DEPTH = 30


class Flow(str, Enum):
    """Which way dependency edges are followed from an entity.

    UPSTREAM follows ``dependsOn`` to what the entity relies on; DOWNSTREAM follows
    ``dependencyOf`` to the entities that rely on it (the ones a failure would reach).
    """

    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


_FLOW_DIRECTION = {
    Flow.UPSTREAM: Direction.OUT,
    Flow.DOWNSTREAM: Direction.IN,
    Flow.BOTH: Direction.BOTH,
}


@dataclass(slots=True)
class DependencyGraph:
    root: str
    nodes: list[Reached]
    edges: list[tuple[str, str]]


@dataclass(slots=True)
class OwnerImpact:
    owner_ref: str | None
    dependents: list[Reached] = field(default_factory=list)


@dataclass(slots=True)
class BlastRadius:
    root: str
    dependents: list[Reached]

    @property
    def by_depth(self) -> dict[int, list[Reached]]:
        grouped: dict[int, list[Reached]] = defaultdict(list)
        for reached in self.dependents:
            grouped[reached.depth].append(reached)
        return dict(sorted(grouped.items()))

    @property
    def by_owner(self) -> list[OwnerImpact]:
        """Owning teams, most affected first (entities without an owner last among equals)."""
        owners: dict[str | None, OwnerImpact] = {}
        for reached in self.dependents:
            owners.setdefault(reached.owner, OwnerImpact(reached.owner)).dependents.append(reached)
        return sorted(owners.values(), key=lambda o: (-len(o.dependents), o.owner_ref or "~"))


def _clamp(depth: int) -> int:
    if depth < 1:
        raise ValueError("maxDepth must be at least 1")
    return min(depth, MAX_DEPTH)


async def dependency_graph(
    store: GraphStore, root: EntityRecord, flow: Flow, max_depth: int
) -> DependencyGraph:
    """Entities within ``max_depth`` dependency hops of ``root`` and the edges among them."""
    reached = await store.reachable(
        root.ref, RelationType.DEPENDS_ON, _FLOW_DIRECTION[flow], _clamp(max_depth)
    )
    nodes = [Reached(root.ref, 0, root.owner), *reached]
    edges = await store.edges_among([n.ref for n in nodes], RelationType.DEPENDS_ON)
    return DependencyGraph(root=root.ref, nodes=nodes, edges=edges)


async def blast_radius(store: GraphStore, root: EntityRecord, max_depth: int) -> BlastRadius:
    """Everything that transitively depends on ``root``, by depth and by owning team."""
    dependents = await store.reachable(
        root.ref, RelationType.DEPENDS_ON, Direction.IN, _clamp(max_depth)
    )
    return BlastRadius(root=root.ref, dependents=dependents)


@dataclass
class BlastCounts:
    """A blast radius counted, not listed: dependents per depth and per owning team."""

    by_depth: dict[int, int] = field(default_factory=dict)
    by_owner: dict[str | None, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum((self.by_depth or self.by_owner).values())


async def blast_counts(
    store: GraphStore, root: EntityRecord, max_depth: int, *, by_depth: bool, by_owner: bool
) -> BlastCounts:
    """What :func:`blast_radius` groups, counted by the store; one traversal per grouping
    asked for (at least one, for the total)."""
    depth, counts = _clamp(max_depth), BlastCounts()
    if by_depth or not by_owner:
        found = await store.reach_counts(
            root.ref, RelationType.DEPENDS_ON, Direction.IN, depth, ReachGroup.DEPTH
        )
        counts.by_depth = {int(k): n for k, n in sorted(found.items())}  # type: ignore[arg-type]
    if by_owner:
        found = await store.reach_counts(
            root.ref, RelationType.DEPENDS_ON, Direction.IN, depth, ReachGroup.OWNER
        )
        # As BlastRadius.by_owner orders them: most affected first, no owner last among equals.
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0] or "~"))
        counts.by_owner = dict(ranked)  # type: ignore[arg-type]
    return counts


async def dependency_path(
    store: GraphStore, start: str, end: str, max_depth: int, *, directed: bool = True
) -> list[str] | None:
    """Refs on one shortest ``dependsOn`` path from ``start`` to ``end``, or None."""
    direction = Direction.OUT if directed else Direction.BOTH
    return await store.shortest_path(
        start, end, RelationType.DEPENDS_ON, direction, _clamp(max_depth)
    )


async def dependency_cycles(store: GraphStore, system: str | None = None) -> list[list[str]]:
    """One concrete cycle per strongly connected group of entities, smallest first.

    Each cycle lists refs in dependency order, starting from its smallest ref; the last
    depends on the first.
    """
    scope: Sequence[str] | None = None
    if system is not None:
        members, _ = await store.find_entities(
            EntityFilter(system=system), EntityOrder.REF, False, 0, 1_000_000
        )
        scope = [m.ref for m in members]
    edges = await store.all_edges(RelationType.DEPENDS_ON, scope)
    graph = nx.DiGraph(edges)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            node = next(iter(component))
            if graph.has_edge(node, node):
                cycles.append([node])
            continue
        start = min(component)
        cycles.append(_cycle_through(graph.subgraph(component), start))
    return sorted(cycles, key=lambda c: (len(c), c))


def _cycle_through(graph: nx.DiGraph, start: str) -> list[str]:
    # In a strongly connected component every node lies on a cycle: the shortest path from a
    # successor of ``start`` back to ``start`` closes the shortest one through it.
    closing = min(
        (
            nx.shortest_path(graph, successor, start)
            for successor in sorted(graph.successors(start))
        ),
        key=len,
    )
    return [start, *closing[:-1]]
