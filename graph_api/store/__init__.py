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
    GraphStore,
    PlacedEntity,
    Reached,
    StoreError,
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
    "GraphStore",
    "PlacedEntity",
    "Reached",
    "StoreError",
]
