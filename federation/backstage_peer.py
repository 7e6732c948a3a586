"""Reading a Backstage peer: its catalog REST API, ``/api/catalog/entities/by-query``, followed
through ``pageInfo.nextCursor`` with a static bearer token (``backend.auth.externalAccess``).

Backstage has no change feed, so every sync lists the whole catalog; each entity's
``metadata.etag`` (which changes whenever the entity does) is its digest, so only entities
whose etag moved are parsed and merged again. Relations are derived from each entity's spec
as Backstage's built-in processor derives them; the stitched ``relations[]`` is not read.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from federation._fetched import Fetched, PeerUnavailable, RawEntity, catalog_entity

PAGE_SIZE = 500
ENTITIES_PATH = "/api/catalog/entities/by-query"


async def read_backstage(
    client: httpx.AsyncClient, url: str, token: str | None, *, page_size: int = PAGE_SIZE
) -> Fetched:
    """Every entity of the Backstage catalog at ``url`` (its base URL).

    Raises:
        PeerUnavailable: unreachable, token refused (401), or not a catalog listing; nothing
            of a partial listing is returned.
    """
    endpoint = url.rstrip("/") + ENTITIES_PATH
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    fetched = Fetched(full=True)
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": page_size}
        if cursor is not None:
            params["cursor"] = cursor
        body = await _page(client, endpoint, headers, params)
        try:
            for item in body["items"]:
                position = len(fetched.entities) + len(fetched.rejected) + 1
                _take(fetched, item, f"{endpoint} item {position}")
            cursor = (body.get("pageInfo") or {}).get("nextCursor")
        except (KeyError, TypeError, AttributeError) as exc:
            raise PeerUnavailable(f"{endpoint} answered garbage: {exc!r}") from exc
        if not cursor:
            return fetched


async def _page(
    client: httpx.AsyncClient, endpoint: str, headers: dict[str, str], params: dict[str, Any]
) -> dict[str, Any]:
    try:
        response = await client.get(endpoint, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise PeerUnavailable(f"{endpoint}: {type(exc).__name__} {exc}".strip()) from exc
    if response.status_code == 401:
        raise PeerUnavailable(f"{endpoint} refused the token (401)")
    if response.status_code != 200:
        raise PeerUnavailable(f"{endpoint} answered {response.status_code}")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise PeerUnavailable(f"{endpoint} answered garbage: not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PeerUnavailable(f"{endpoint} answered garbage: no items")
    return body


def _take(fetched: Fetched, item: Any, location: str) -> None:
    found = catalog_entity(item, location)
    if isinstance(found, RawEntity):
        fetched.entities.append(found)
    else:
        fetched.rejected.append(found)
