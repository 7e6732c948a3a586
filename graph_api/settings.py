"""Settings from the environment (``DEVGRAPH_*``, ``NEO4J_*``) with safe defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server and store settings. Environment variables override the defaults."""

    model_config = SettingsConfigDict(env_prefix="DEVGRAPH_", extra="ignore")

    store: Path = Field(default=Path(".devgraph"), description="Embedded store folder.")
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = True
    neo4j_uri: str | None = Field(default=None, validation_alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", validation_alias="NEO4J_USER")
    neo4j_password: str | None = Field(default=None, validation_alias="NEO4J_PASSWORD")
    neo4j_database: str = Field(default="neo4j", validation_alias="NEO4J_DATABASE")
