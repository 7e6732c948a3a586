"""An organisation's repositories from the GitHub and GitLab REST APIs.

GitHub: ``GET /orgs/{org}/repos?per_page=100``, next pages from the ``Link`` header, limits in
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` and ``Retry-After``. GitLab:
``GET /api/v4/groups/{id}/projects?include_subgroups=true&per_page=100``, next page in
``X-Next-Page``, limits in ``RateLimit-Remaining`` / ``RateLimit-Reset`` and ``Retry-After``.
A rate-limited answer is waited out (up to ``max_wait`` seconds) and asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com"
Sleep = Callable[[float], Awaitable[None]]


class DiscoveryError(RuntimeError):
    """The forge refused or failed the listing (bad token, unknown org, rate limit too long)."""


@dataclass(frozen=True, slots=True)
class DiscoveredRepository:
    clone_url: str
    web_url: str
    archived: bool


@dataclass
class _Client:
    """Pages through a listing, waiting out rate limits."""

    headers: dict[str, str]
    timeout: float
    max_wait: float
    sleep: Sleep

    async def pages(
        self, url: str, params: dict[str, Any], next_url: Callable[[httpx.Response], str | None]
    ) -> list[Any]:
        items: list[Any] = []
        async with httpx.AsyncClient(headers=self.headers, timeout=self.timeout) as client:
            request: tuple[str, dict[str, Any] | None] | None = (url, params)
            while request is not None:
                response = await self._get(client, *request)
                body = response.json()
                if not isinstance(body, list):
                    raise DiscoveryError(f"{response.url}: expected a list of repositories")
                items.extend(body)
                following = next_url(response)
                # The next page's link carries its own query.
                request = (following, None) if following else None
        return items

    async def _get(
        self, client: httpx.AsyncClient, url: str, params: dict[str, Any] | None
    ) -> httpx.Response:
        while True:
            try:
                response = await client.get(url, params=params)
            except httpx.HTTPError as exc:
                raise DiscoveryError(f"{url}: {exc}") from exc
            wait = _rate_limit_wait(response)
            if wait is None:
                break
            if wait > self.max_wait:
                raise DiscoveryError(
                    f"{url}: rate limited for {wait:.0f} s (more than the {self.max_wait:.0f} s "
                    "this run waits); try again later or use a token with a higher limit"
                )
            await self.sleep(wait)
        if response.status_code != 200:
            raise DiscoveryError(
                f"{response.url}: HTTP {response.status_code}: {response.text[:200]}"
            )
        # Out of requests with more pages to come: wait for the window to reset first.
        remaining = response.headers.get("x-ratelimit-remaining") or response.headers.get(
            "ratelimit-remaining"
        )
        if remaining == "0":
            reset = _reset_wait(response)
            if reset is not None and reset <= self.max_wait:
                await self.sleep(reset)
        return response


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before asking again, or None when the answer is not a rate limit."""
    if response.status_code not in (403, 429):
        return None
    retry_after = response.headers.get("retry-after")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after)
    remaining = response.headers.get("x-ratelimit-remaining") or response.headers.get(
        "ratelimit-remaining"
    )
    if remaining == "0" or response.status_code == 429:
        return _reset_wait(response) or 60.0
    return None  # a 403 for another reason (no access): not a limit


def _reset_wait(response: httpx.Response) -> float | None:
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("ratelimit-reset")
    if reset is None or not reset.strip().isdigit():
        return None
    return max(0.0, float(reset) - time.time()) + 1.0


async def github_repositories(
    org: str,
    *,
    api: str = GITHUB_API,
    token: str | None = None,
    include_archived: bool = False,
    max_wait: float = 900.0,
    timeout: float = 30.0,
    sleep: Sleep = asyncio.sleep,
) -> list[DiscoveredRepository]:
    """Every repository of a GitHub organisation.

    Example:
        >>> repos = await github_repositories("acme", token=token)  # doctest: +SKIP
    """
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = _Client(headers, timeout, max_wait, sleep)
    url = f"{api.rstrip('/')}/orgs/{quote(org, safe='')}/repos"
    items = await client.pages(
        url, {"per_page": 100, "type": "all"}, lambda r: r.links.get("next", {}).get("url")
    )
    found = [
        DiscoveredRepository(i["clone_url"], i.get("html_url") or "", bool(i.get("archived")))
        for i in items
        if isinstance(i, dict) and i.get("clone_url")
    ]
    return [r for r in found if include_archived or not r.archived]


async def gitlab_repositories(
    group: str,
    *,
    api: str = GITLAB_API,
    token: str | None = None,
    include_archived: bool = False,
    max_wait: float = 900.0,
    timeout: float = 30.0,
    sleep: Sleep = asyncio.sleep,
) -> list[DiscoveredRepository]:
    """Every project of a GitLab group and its subgroups (``group`` is an id or a full path)."""
    headers = {"PRIVATE-TOKEN": token} if token else {}
    client = _Client(headers, timeout, max_wait, sleep)
    url = f"{api.rstrip('/')}/api/v4/groups/{quote(group, safe='')}/projects"
    params: dict[str, Any] = {"include_subgroups": "true", "per_page": 100}

    def next_page(response: httpx.Response) -> str | None:
        page = response.headers.get("x-next-page", "").strip()
        return str(response.url.copy_merge_params({"page": page})) if page else None

    items = await client.pages(url, params, next_page)
    found = [
        DiscoveredRepository(i["http_url_to_repo"], i.get("web_url") or "", bool(i.get("archived")))
        for i in items
        if isinstance(i, dict) and i.get("http_url_to_repo")
    ]
    return [r for r in found if include_archived or not r.archived]
