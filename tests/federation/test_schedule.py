"""When background syncs under ``devgraph serve`` fall due."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from federation.schedule import _recorded_sync
from graph_api.store import PeerRecord


def test_a_restarted_server_waits_out_the_interval_of_a_recent_sync() -> None:
    now = time.monotonic()
    ago = (datetime.now(UTC) - timedelta(seconds=10)).isoformat()
    synced = PeerRecord("p", "file", "x.json", "p", None, 300, 0, status="OK", last_synced_at=ago)
    assert 9 <= now - _recorded_sync(synced, now) <= 60
    # Never synced, or failing: due at once.
    assert _recorded_sync(replace(synced, last_synced_at=None), now) == -float("inf")
    assert _recorded_sync(replace(synced, status="STALE"), now) == -float("inf")
