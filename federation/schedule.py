"""Background syncs under ``devgraph serve``: each peer on its own interval."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from federation.sync import sync_peers
from graph_api.model.federation import PeerStatus
from graph_api.store import GraphStore, PeerRecord, StoreError

log = logging.getLogger("devgraph.federation")
# How often the peer list is read again when no sync is due sooner.
IDLE_S = 5.0


async def sync_forever(store: GraphStore) -> None:
    """Sync every peer whenever its interval has passed, until cancelled.

    Peers due together are synced together (read at once, merged one by one). A failing
    sync is logged and the loop goes on: a peer that is down is marked STALE by its sync and
    retried at its next interval; the other peers sync on. A restarted server does not sync
    again a peer whose last sync changed something less than an interval ago.
    """
    last: dict[str, float] = {}
    while True:
        now = time.monotonic()
        try:
            peers = await store.get_peers()
        except StoreError:
            log.exception("cannot read the peers; retrying in %s s", IDLE_S)
            peers = []
        for peer in peers:
            last.setdefault(peer.name, _recorded_sync(peer, now))
        due = [p.name for p in peers if last[p.name] + p.interval <= now]
        if due:
            last.update((name, now) for name in due)
            await _sync(store, due)
        waits = [last[p.name] + p.interval - time.monotonic() for p in peers]
        await asyncio.sleep(max(0.05, min([IDLE_S, *waits])))


def _recorded_sync(peer: PeerRecord, now: float) -> float:
    """When, on the monotonic clock, the peer's recorded last sync was (never, unless OK)."""
    if peer.last_synced_at is None or peer.status != PeerStatus.OK.value:
        return -float("inf")
    age = datetime.now(UTC) - datetime.fromisoformat(peer.last_synced_at)
    return now - max(age.total_seconds(), 0.0)


async def _sync(store: GraphStore, names: list[str]) -> None:
    try:
        reports = await sync_peers(store, names)
    except Exception:  # noqa: BLE001 - a failed round must not stop the next ones
        log.exception("sync of peers %s failed", ", ".join(names))
        return
    for report in reports:
        log.info(
            "synced peer %s: %s, %d added, %d updated, %d removed",
            report.peer,
            report.status,
            len(report.added),
            len(report.updated),
            len(report.removed),
            extra={"peer": report.peer, "status": report.status, "error": report.error},
        )
