"""Settings from a TOML config file and the environment, with secure defaults.

Precedence, highest first: explicit arguments, ``DEVGRAPH_*`` / ``NEO4J_*`` environment
variables, the TOML file named by ``DEVGRAPH_CONFIG`` (default ``devgraph.toml`` if present).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DEVGRAPH_CONFIG"
DEFAULT_CONFIG = Path("devgraph.toml")


class Limits(BaseModel):
    """What one GraphQL request may ask for (GraphQL Armor / GitHub / Apollo norms)."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    # A cost point is one resolved field (lists counted at their page size, plain lists at
    # default_list_size); a page of 100 components with owners and their dependencies' owners
    # costs about 5,700, so the default leaves room for that and not for a scraper's query.
    max_cost: int = 20_000
    max_page: int = 100
    max_nodes: int = 50_000
    default_list_size: int = Field(
        default=10, description="Assumed length of plain lists when costing a query."
    )
    max_body_bytes: int = 2 * 1024 * 1024
    execution_timeout_s: float = 10.0


class RateLimit(BaseModel):
    """Token bucket per token or client address."""

    enabled: bool = True
    per_minute: int = 1200
    burst: int = 200


class Oidc(BaseModel):
    """OIDC/JWT bearer tokens, verified against the issuer's JWKS."""

    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    team_claim: str = "team"
    role_claim: str = "role"
    name_claim: str = "sub"


class SharedCostRule(BaseModel):
    """Cost that no resource, tag or account attributes and that matches every given field
    (case-insensitively) is split among ``targets``: evenly, or in proportion to the direct
    cost each target has in the same file and currency."""

    provider: str | None = None
    account: str | None = None
    service: str | None = None
    category: str | None = None
    split: Literal["even", "proportional"] = "proportional"
    targets: list[str] = Field(
        default_factory=list,
        description="Entity refs (kind defaults to Component); empty: every entity with "
        "direct cost in the file.",
    )


class CostAttribution(BaseModel):
    """How cloud cost and resources find their component, system or team.

    Keys are tag or label keys, compared ignoring case and surrounding spaces; the ones given
    here are tried before the defaults.
    """

    component_keys: list[str] = Field(default_factory=list)
    system_keys: list[str] = Field(default_factory=list)
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="Account or subscription id -> owning team ref (kind defaults to Group).",
    )
    shared: list[SharedCostRule] = Field(default_factory=list)


class LicensePolicy(BaseModel):
    """Which package licenses are fine, by SPDX id (or ``id WITH exception``), any case.

    An expression passes when one branch of an OR passes and every part of an AND does. A
    license on no list is allowed when ``allowed`` is empty and to be reviewed otherwise; a
    license that cannot be normalised to SPDX is always to be reviewed. With every list empty
    there is no policy and no license findings.
    """

    allowed: list[str] = Field(default_factory=list)
    denied: list[str] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)

    @property
    def configured(self) -> bool:
        return bool(self.allowed or self.denied or self.review)


class Settings(BaseSettings):
    """Server, store and security settings."""

    model_config = SettingsConfigDict(
        env_prefix="DEVGRAPH_", env_nested_delimiter="__", extra="ignore"
    )

    store: Path = Field(default=Path(".devgraph"), description="Embedded store folder.")
    # A write holds everything it adds in the page cache until its checkpoint: a first load of
    # 100k components (142k entities, 650k relations) needs ~1.5 GiB, and fails at 1 GiB.
    store_buffer_pool_mib: int | None = Field(
        default=2048,
        ge=64,
        description="Page cache of the embedded store, MiB (null: the database's default, "
        "80% of the machine's memory).",
    )
    store_checkpoint_mib: int = Field(
        default=512,
        ge=1,
        description="Write-ahead log size, MiB, at which the embedded store checkpoints.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool = True
    introspection: bool = True
    allow_anonymous_read: bool = Field(
        default=False, description="Let requests without credentials read the catalog."
    )
    cost_roles: list[str] = Field(default_factory=lambda: ["finance"])
    findings_roles: list[str] = Field(default_factory=lambda: ["security"])
    limits: Limits = Field(default_factory=Limits)
    cost: CostAttribution = Field(default_factory=CostAttribution)
    licenses: LicensePolicy = Field(default_factory=LicensePolicy)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    oidc: Oidc = Field(default_factory=Oidc)
    changes_overlap_s: int = Field(
        default=300,
        ge=0,
        description="Seconds of audit trail before a hub's cursor that `changes(since:)` reads "
        "again, for writes that committed after the hub's last read (see api/federation.py).",
    )
    neo4j_uri: str | None = Field(default=None, validation_alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", validation_alias="NEO4J_USER")
    neo4j_password: str | None = Field(default=None, validation_alias="NEO4J_PASSWORD")
    neo4j_database: str = Field(default="neo4j", validation_alias="NEO4J_DATABASE")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        elif CONFIG_ENV in os.environ:
            raise FileNotFoundError(f"{CONFIG_ENV}={config}: no such config file")
        return tuple(sources)
