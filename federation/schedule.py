"""Background syncs under ``devgraph serve``: each peer on its own interval."""

from __future__ import annotations

import asyncio
import logging
import time

from federation.sync import sync_peers
from graph_api.store import GraphStore, StoreError

log = logging.getLogger("devgraph.federation")
# How often the peer list is read again when no sync is due sooner.
IDLE_S = 5.0


async def sync_forever(store: GraphStore) -> None:
    """Sync every peer whenever its interval has passed, until cancelled.

    Peers due together are synced together (read at once, merged one by one). A failing
    sync is logged and the loop goes on: a peer that is down is marked STALE by its sync and
    retried at its next interval; the other peers sync on.
    """
    last: dict[str, float] = {}
    while True:
        now = time.monotonic()
        try:
            peers = await store.get_peers()
        except StoreError:
            log.exception("cannot read the peers; retrying in %s s", IDLE_S)
            peers = []
        due = [p.name for p in peers if last.get(p.name, -float("inf")) + p.interval <= now]
        if due:
            last.update((name, now) for name in due)
            await _sync(store, due)
        waits = [last[p.name] + p.interval - time.monotonic() for p in peers]
        await asyncio.sleep(max(0.05, min([IDLE_S, *waits])))


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
