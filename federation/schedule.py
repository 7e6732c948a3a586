"""Background syncs under ``devgraph serve``: each peer on its own interval."""

from __future__ import annotations

import asyncio
import logging
import time

from federation.sync import sync_peer
from graph_api.store import GraphStore, StoreError

log = logging.getLogger("devgraph.federation")
# How often the peer list is read again when no sync is due sooner.
IDLE_S = 5.0


async def sync_forever(store: GraphStore) -> None:
    """Sync every peer whenever its interval has passed, until cancelled.

    A failing sync is logged and the loop goes on: a peer that is down is marked STALE by
    its sync and retried at its next interval; the other peers sync on.
    """
    last: dict[str, float] = {}
    while True:
        now = time.monotonic()
        wait = IDLE_S
        try:
            peers = await store.get_peers()
        except StoreError:
            log.exception("cannot read the peers; retrying in %s s", IDLE_S)
            peers = []
        for peer in peers:
            due = last.get(peer.name, -float("inf")) + peer.interval
            if due <= now:
                last[peer.name] = now
                await _sync(store, peer.name)
                due = now + peer.interval
            wait = min(wait, max(due - time.monotonic(), 0.05))
        await asyncio.sleep(wait)


async def _sync(store: GraphStore, name: str) -> None:
    try:
        report = await sync_peer(store, name)
    except Exception:  # noqa: BLE001 - one peer's failure must not stop the others' syncs
        log.exception("sync of peer %s failed", name)
        return
    log.info(
        "synced peer %s: %s, %d added, %d updated, %d removed",
        name,
        report.status,
        len(report.added),
        len(report.updated),
        len(report.removed),
        extra={"peer": name, "status": report.status, "error": report.error},
    )
