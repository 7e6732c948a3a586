"""Settings of the git loader, from ``DEVGRAPH_GIT_*`` environment variables (tokens also from
the forges' usual ``GITHUB_TOKEN`` / ``GITLAB_TOKEN``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from loaders.git.source import DEFAULT_CACHE, DEFAULT_GLOBS


class GitSettings(BaseSettings):
    """Where clones are cached, which files are descriptors, and the secrets of the forges."""

    model_config = SettingsConfigDict(env_prefix="DEVGRAPH_GIT_", extra="ignore")

    cache: Path = DEFAULT_CACHE
    globs: list[str] = Field(default_factory=lambda: list(DEFAULT_GLOBS))
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of GitHub and GitLab push webhooks."
    )
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DEVGRAPH_GIT_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    gitlab_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DEVGRAPH_GIT_GITLAB_TOKEN", "GITLAB_TOKEN")
    )
