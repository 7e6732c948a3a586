"""Peer configuration: which IDPs the hub federates, and how to reach them."""

from __future__ import annotations

import re
from dataclasses import replace

from federation.naming import check_unit
from graph_api.model.federation import PeerKind
from graph_api.store import GraphStore, PeerRecord

NAME_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_INTERVAL_S = 300


async def add_peer(
    store: GraphStore,
    name: str,
    *,
    kind: str,
    url: str,
    unit: str | None = None,
    token_env: str | None = None,
    interval: int = DEFAULT_INTERVAL_S,
    precedence: int = 0,
) -> PeerRecord:
    """Configure a peer, or change the config of an existing one (its status is kept).

    Args:
        name: lower-case words joined by ``-`` or ``_``; its source key is ``peer:<name>``.
        kind: ``devgraph``, ``backstage`` or ``file``.
        url: a devgraph's base or ``/graphql`` URL, a Backstage base URL, an export path.
        unit: the business unit its entities belong to (default: the name); one per peer.
        token_env: the environment variable that will hold its token; the token itself is
            never stored.
        interval: seconds between background syncs under ``devgraph serve``.
        precedence: higher wins when copies in several units are merged.

    Raises:
        ValueError: naming the offending option.
    """
    if not NAME_RE.match(name) or len(name) > 63:
        raise ValueError(f"name {name!r}: lower-case letters and digits joined by - or _")
    try:
        peer_kind = PeerKind(kind)
    except ValueError as exc:
        choices = ", ".join(k.value for k in PeerKind)
        raise ValueError(f"kind {kind!r}: one of {choices}") from exc
    unit = check_unit(unit if unit is not None else name.replace("_", "-"))
    if not url.strip():
        raise ValueError("url: required")
    if token_env is not None and not ENV_RE.match(token_env):
        raise ValueError(
            f"token-env {token_env!r}: the NAME of an environment variable, not the token"
        )
    if interval < 1:
        raise ValueError("interval: at least 1 second")
    peers = {p.name: p for p in await store.get_peers()}
    for other in peers.values():
        if other.unit == unit and other.name != name:
            raise ValueError(f"unit {unit!r} is already peer {other.name}'s; one unit per peer")
    existing = peers.get(name)
    if existing is not None and existing.unit != unit:
        raise ValueError(
            f"peer {name} is unit {existing.unit}; remove it and add it again to change its unit"
        )
    peer = PeerRecord(name, peer_kind.value, url.strip(), unit, token_env, interval, precedence)
    if existing is not None:
        # Only the config changes: how its syncs went stays.
        peer = replace(
            peer,
            status=existing.status,
            error=existing.error,
            last_synced_at=existing.last_synced_at,
            entity_count=existing.entity_count,
        )
    await store.put_peer(peer)
    return peer


async def hub_units(store: GraphStore) -> tuple[str, ...]:
    """The business units the store federates, sorted; none on a single instance."""
    return tuple(sorted({peer.unit for peer in await store.get_peers()}))
