"""Graph stores behind one port: embedded (Ladybug, the default) and Neo4j."""

from graph_api.store.port import (
    ChangeSet,
    Claim,
    Direction,
    EntityFilter,
    EntityOrder,
    EntityRecord,
    GraphNode,
    GraphStore,
    PlacedEntity,
    StoreError,
    Subgraph,
)

__all__ = [
    "ChangeSet",
    "Claim",
    "Direction",
    "EntityFilter",
    "EntityOrder",
    "EntityRecord",
    "GraphNode",
    "GraphStore",
    "PlacedEntity",
    "StoreError",
    "Subgraph",
]
