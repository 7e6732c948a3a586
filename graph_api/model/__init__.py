"""The catalog's domain model: entity refs, descriptors, relations."""

from graph_api.model.entity import (
    RELATION_NAMES,
    DescriptorError,
    Entity,
    Relation,
    RelationType,
    descriptor_hash,
    parse_entity,
)
from graph_api.model.refs import EntityRef, RefError, canonical_ref, normalize_ref

__all__ = [
    "RELATION_NAMES",
    "DescriptorError",
    "Entity",
    "EntityRef",
    "RefError",
    "Relation",
    "RelationType",
    "canonical_ref",
    "descriptor_hash",
    "normalize_ref",
    "parse_entity",
]
