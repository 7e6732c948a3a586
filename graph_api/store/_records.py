"""Rows both stores write and read: one flat shape for an entity node."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from graph_api.model import RELATION_NAMES, RelationType
from graph_api.model.entity import JSON_OPTIONS, KIND_NAMES
from graph_api.model.refs import split_ref
from graph_api.store.port import AuditEvent, EntityChange, EntityRecord, PlacedEntity, Reached

# Node properties in a fixed order: the RETURN list of every read and the SET list of writes.
ENTITY_FIELDS: tuple[str, ...] = (
    "ref",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "type",
    "lifecycle",
    "owner",
    "system",
    "domain",
    "tags",
    "annotation_keys",
    "annotation_pairs",
    "search_text",
    "descriptor",
    "source",
    "location",
    "hash",
    "stub",
    "updated_at",
    "unit",
    "provenance",
)
RECORD_FIELDS: tuple[str, ...] = tuple(
    f for f in ENTITY_FIELDS if f not in ("annotation_keys", "annotation_pairs", "search_text")
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def entity_row(placed: PlacedEntity, source: str, updated_at: str) -> dict[str, Any]:
    """The node properties for a defined entity."""
    entity = placed.entity
    metadata = entity.metadata
    spec = entity.spec
    annotations: dict[str, str] = metadata.get("annotations") or {}
    tags: list[str] = list(metadata.get("tags") or [])
    title = metadata.get("title")
    description = metadata.get("description")
    kind_key = entity.kind.lower()
    domain = (
        entity.target(RelationType.PART_OF, "domain:")
        if kind_key in ("system", "domain")
        else None
    )
    search_text = " ".join(
        part for part in (entity.name, title, description, " ".join(tags)) if part
    ).lower()
    spec_type = spec.get("type")
    lifecycle = spec.get("lifecycle")
    return {
        "ref": entity.ref,
        "kind": entity.kind,
        "namespace": entity.namespace,
        "name": entity.name,
        "title": title,
        "description": description,
        "type": spec_type if isinstance(spec_type, str) else None,
        "lifecycle": lifecycle if isinstance(lifecycle, str) else None,
        "owner": entity.target(RelationType.OWNED_BY),
        "system": entity.target(RelationType.PART_OF, "system:"),
        "domain": domain,
        "tags": tags,
        "annotation_keys": sorted(annotations),
        "annotation_pairs": sorted(f"{k}={v}" for k, v in annotations.items()),
        "search_text": search_text,
        "descriptor": orjson.dumps(entity.descriptor, option=JSON_OPTIONS).decode(),
        "source": placed.source or source,
        "location": placed.location,
        "hash": entity.hash,
        "stub": False,
        "updated_at": updated_at,
        "unit": placed.unit,
        "provenance": (
            orjson.dumps(placed.provenance).decode() if placed.provenance is not None else None
        ),
    }


def stub_row(ref: str) -> dict[str, Any]:
    """The node for a ref that relations point at but no source defines (yet)."""
    parts = split_ref(ref)
    return {
        "ref": ref,
        "kind": KIND_NAMES.get(parts.kind, parts.kind),
        "namespace": parts.namespace,
        "name": parts.name,
        "title": None,
        "description": None,
        "type": None,
        "lifecycle": None,
        "owner": None,
        "system": None,
        "domain": None,
        "tags": [],
        "annotation_keys": [],
        "annotation_pairs": [],
        "search_text": parts.name.lower(),
        "descriptor": "{}",
        "source": None,
        "location": None,
        "hash": None,
        "stub": True,
        "updated_at": None,
        "unit": None,
        "provenance": None,
    }


def record_from_values(values: Sequence[Any]) -> EntityRecord:
    """Build a record from a row in ``RECORD_FIELDS`` order."""
    row = dict(zip(RECORD_FIELDS, values, strict=True))
    row["descriptor_json"] = row.pop("descriptor") or "{}"
    row["tags"] = list(row["tags"] or [])
    row["stub"] = bool(row["stub"])
    return EntityRecord(**row)


def relation_rows(placed: Iterable[PlacedEntity]) -> dict[RelationType, list[dict[str, str]]]:
    """Edges to create, grouped by relation type, de-duplicated per origin."""
    grouped: dict[RelationType, list[dict[str, str]]] = {}
    for item in placed:
        seen: set[tuple[RelationType, str, str]] = set()
        for rel in item.entity.relations:
            key = (rel.type, rel.source, rel.target)
            if key in seen:
                continue
            seen.add(key)
            grouped.setdefault(rel.type, []).append(
                {"s": rel.source, "t": rel.target, "o": rel.origin}
            )
    return grouped


def batched(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Filter clauses valid in both dialects (each store lints or runs them in its contract tests).
FILTER_CLAUSES: dict[str, str] = {
    "kinds": "lower(e.kind) IN $kinds",
    "types": "lower(e.type) IN $types",
    "lifecycles": "lower(e.lifecycle) IN $lifecycles",
    "namespaces": "e.namespace IN $namespaces",
    "owner": "e.owner = $owner",
    "system": "e.system = $system",
    "domain": (
        "(e.domain = $domain OR EXISTS { MATCH (e)-[:PART_OF]->(s:Entity) "
        "WHERE s.domain = $domain })"
    ),
    "tag": "$tag IN e.tags",
    "annotation_key": "$annotation IN e.annotation_keys",
    "annotation_pair": "$annotation IN e.annotation_pairs",
    "text": "e.search_text CONTAINS $text",
    "refs": "e.ref IN $refs",
    "unowned": "e.owner IS NULL",
    "units": "e.unit IN $units",
    "ref_after": "e.ref > $ref_after",
}
ORDER_CLAUSES: dict[str, str] = {
    "REF": "e.ref",
    "NAME": "lower(e.name), e.ref",
    "KIND": "e.kind, e.ref",
    "UPDATED_AT": "e.updated_at, e.ref",
}


def filter_clause(where: Any) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (from fixed fragments only) and parameters for an ``EntityFilter``."""
    clauses = ["e.stub = false"]
    params: dict[str, Any] = {}
    lowered = ("kinds", "types", "lifecycles")
    for name in ("kinds", "types", "lifecycles", "namespaces", "refs", "units"):
        values = getattr(where, name)
        if values is not None:
            clauses.append(FILTER_CLAUSES[name])
            params[name] = [v.lower() for v in values] if name in lowered else list(values)
    for name in ("owner", "system", "domain", "tag", "ref_after"):
        value = getattr(where, name)
        if value is not None:
            clauses.append(FILTER_CLAUSES[name])
            params[name] = value
    if where.annotation is not None:
        clauses.append(
            FILTER_CLAUSES["annotation_pair" if "=" in where.annotation else "annotation_key"]
        )
        params["annotation"] = where.annotation
    if where.text:
        clauses.append(FILTER_CLAUSES["text"])
        params["text"] = where.text.lower()
    if where.unowned:
        clauses.append(FILTER_CLAUSES["unowned"])
    return " AND ".join(clauses), params


PEER_FIELDS: tuple[str, ...] = (
    "name",
    "kind",
    "url",
    "unit",
    "token_env",
    "interval",
    "precedence",
    "status",
    "error",
    "last_synced_at",
    "entity_count",
)

TOKEN_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "team",
    "role",
    "hash",
    "created_at",
    "expires_at",
    "revoked_at",
)


def audit_row(event: AuditEvent) -> dict[str, Any]:
    """Parameters of one appended audit event; ``refs`` lets it be found by entity."""
    changes = [{"ref": c.ref, "before": c.before, "after": c.after} for c in event.changes]
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "source": event.source,
        "refs": [c.ref for c in event.changes],
        "changes": json.dumps(changes, separators=(",", ":")),
    }


def audit_event_from_values(values: Sequence[Any]) -> AuditEvent:
    """An event from ``id, at, actor, action, source, changes`` values."""
    event_id, at, actor, action, source, changes = values
    return AuditEvent(
        id=event_id,
        at=at,
        actor=actor,
        action=action,
        source=source,
        changes=[EntityChange(**c) for c in json.loads(changes or "[]")],
    )


def unresolved_relations(
    outgoing: Iterable[Sequence[str]], incoming: Iterable[Sequence[str]]
) -> list[tuple[str, str, str]]:
    """``(declaring ref, Backstage relation name, missing ref)`` from stored edge rows.

    An edge the declaring entity points out of reads with the relation's own name
    (``ownedBy``); one it points into, declared through an inverse field, reads with the
    inverse name (``dependencyOf``).
    """
    found = [(a, RELATION_NAMES[RelationType(label)][0], b) for a, label, b in outgoing]
    found += [(a, RELATION_NAMES[RelationType(label)][1], b) for a, label, b in incoming]
    return sorted(set(found))


def reached_from_rows(root: str, rows: Iterable[Sequence[Any]]) -> list[Reached]:
    """Traversal rows ``(ref, depth, owner)`` in depth-then-ref order, without the root.

    A cycle leads back to the root along a shortest path of its own; the root is not something
    it reaches.
    """
    found = [Reached(ref, int(depth), owner) for ref, depth, owner in rows if ref != root]
    found.sort(key=lambda r: (r.depth, r.ref))
    return found
