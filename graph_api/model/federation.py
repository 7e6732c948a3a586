"""Words the API and the federation package share about peers: their kinds and sync status."""

from __future__ import annotations

from enum import Enum


class PeerKind(str, Enum):
    """How a peer is read: a devgraph over GraphQL, a Backstage over its REST catalog API, or
    an export file."""

    DEVGRAPH = "devgraph"
    BACKSTAGE = "backstage"
    FILE = "file"


class PeerStatus(str, Enum):
    """How a peer's last sync went.

    OK: its data is current. STALE: the last sync failed; its last good data is kept.
    HELD: it returned far fewer entities than before; nothing was written until the shrink
    is accepted. ERROR: it failed before any data was ever taken from it.
    """

    OK = "OK"
    STALE = "STALE"
    HELD = "HELD"
    ERROR = "ERROR"


def peer_source(name: str) -> str:
    """The source key a peer's entities are written under."""
    return f"{PEER_SOURCE_PREFIX}{name}"


PEER_SOURCE_PREFIX = "peer:"
