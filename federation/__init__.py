"""Federation: merge other IDPs (devgraph peers, Backstage catalogs, exports) into one view."""

from federation.naming import hub_ref, peer_ref
from federation.peers import add_peer
from federation.schedule import sync_forever
from federation.sync import SyncReport, UnknownPeer, remove_peer, sync_peer, sync_peers

__all__ = [
    "SyncReport",
    "UnknownPeer",
    "add_peer",
    "hub_ref",
    "peer_ref",
    "remove_peer",
    "sync_forever",
    "sync_peer",
    "sync_peers",
]
