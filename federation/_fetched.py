"""What reading a peer gives the sync, whatever the peer's kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from graph_api.ingest import Rejection
from graph_api.model.entity import KIND_NAMES, MAX_DEPTH, content_hash
from graph_api.model.refs import DEFAULT_NAMESPACE, canonical_ref

# Enough for a slow peer's page; a peer slower than this is down as far as a sync goes.
DEFAULT_TIMEOUT_S = 30.0


class PeerUnavailable(Exception):
    """The peer could not be read: down, too slow, refused the token, or answered garbage."""


@dataclass(slots=True)
class RawEntity:
    """One entity as the peer gave it: its ref there, a digest that changes when the entity
    does (Backstage's ``metadata.etag``, else a content hash), and the descriptor."""

    ref: str
    digest: str
    document: dict[str, Any]


@dataclass(slots=True)
class Fetched:
    """What one read of a peer returned.

    ``full``: ``entities`` is everything the peer has now, so anything else the hub holds of
    it is gone; otherwise ``entities`` changed and ``removed`` (refs in the peer) are gone.
    ``cursor`` is what to ask the peer for changes since, next time (devgraph peers only).
    """

    full: bool
    entities: list[RawEntity] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    cursor: str | None = None
    rejected: list[Rejection] = field(default_factory=list)


def raw_entity(document: Any, digest: str | None, location: str) -> RawEntity | Rejection:
    """The entity a peer's document describes, or why it cannot be told which entity it is."""
    try:
        kind = document["kind"]
        metadata = document["metadata"]
        name = metadata["name"]
        namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    except (KeyError, TypeError, AttributeError):
        return Rejection(location, "not an entity: kind and metadata.name are required")
    if not all(isinstance(v, str) and v for v in (kind, name, namespace)):
        return Rejection(location, "not an entity: kind, metadata.name must be strings")
    ref = canonical_ref(KIND_NAMES.get(kind.lower(), kind), namespace, name)
    try:
        # Depth is checked when the entity is parsed; only hashing it must not fail before.
        digest = digest or content_hash(document)
    except orjson.JSONEncodeError:
        return Rejection(location, f"{ref}: nested deeper than {MAX_DEPTH} levels")
    return RawEntity(ref, digest, document)


# Written by a catalog for its own bookkeeping: they change without the entity changing.
_VOLATILE_METADATA = ("etag", "generation")
_ENVELOPE = ("apiVersion", "kind", "metadata", "spec")


def catalog_entity(item: Any, location: str) -> RawEntity | Rejection:
    """An entity as a Backstage catalog serves it (with ``relations``, ``status``, ``uid``,
    ``etag``), as the descriptor it was loaded from; its etag is its digest."""
    if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
        return raw_entity(item, None, location)
    etag = item["metadata"].get("etag")
    document = {key: item[key] for key in _ENVELOPE if key in item}
    document["metadata"] = {
        k: v for k, v in item["metadata"].items() if k not in _VOLATILE_METADATA
    }
    return raw_entity(document, etag if isinstance(etag, str) and etag else None, location)
