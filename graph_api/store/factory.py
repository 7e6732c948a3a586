"""Pick the store the settings ask for: Neo4j when ``NEO4J_URI`` is set, else embedded."""

from __future__ import annotations

from graph_api.settings import Settings
from graph_api.store.embedded import EmbeddedStore
from graph_api.store.port import GraphStore


def make_store(settings: Settings) -> GraphStore:
    if settings.neo4j_uri:
        from graph_api.store.neo4j import Neo4jStore  # noqa: PLC0415 - driver only when used

        return Neo4jStore(
            settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password or "",
            database=settings.neo4j_database,
        )
    return EmbeddedStore(
        settings.store,
        buffer_pool_mib=settings.store_buffer_pool_mib,
        checkpoint_mib=settings.store_checkpoint_mib,
    )
