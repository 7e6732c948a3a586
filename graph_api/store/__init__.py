"""Graph stores behind one port: embedded (Ladybug, the default) and Neo4j."""

from graph_api.store.port import (
    ApiToken,
    AuditEvent,
    EntityChange,
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
    "ApiToken",
    "AuditEvent",
    "EntityChange",
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
