"""Reading a devgraph peer: its GraphQL ``changes(since:)``, page by page, with a viewer token.

With no cursor yet, the peer lists every entity; afterwards only what changed since the
cursor, deletions included. Entities the peer itself federates (they carry a ``unit`` and the
``peer`` it took them from) are treated as absent: a hub takes from a peer only the peer's own entities,
so two hubs that federate each other never loop or duplicate.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from federation._fetched import Fetched, PeerUnavailable, RawEntity, raw_entity
from graph_api.ingest import Rejection

PAGE_SIZE = 1000
CHANGES = """
query Changes($since: String, $first: Int, $after: String) {
  changes(since: $since, first: $first, after: $after) {
    cursor
    full
    pageInfo { hasNextPage endCursor }
    nodes { ref removed unit peer descriptor }
  }
}
"""


def graphql_url(url: str) -> str:
    """The GraphQL endpoint of a peer given as its base URL or as the endpoint itself."""
    base = url.rstrip("/")
    return base if base.endswith("/graphql") else f"{base}/graphql"


async def read_devgraph(
    client: httpx.AsyncClient,
    url: str,
    token: str | None,
    since: str | None,
    *,
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Every page of the peer's changes since ``since`` (everything when None).

    Raises:
        PeerUnavailable: the peer is down, refused the token, or answered anything but a
            complete listing; nothing of a partial listing is returned.
    """
    endpoint = graphql_url(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    fetched = Fetched(full=since is None)
    after: str | None = None
    while True:
        variables = {"since": since, "first": page_size, "after": after}
        page = await _changes(client, endpoint, headers, variables)
        try:
            for node in page["nodes"]:
                _take(fetched, node, endpoint)
            fetched.cursor = str(page["cursor"])
            fetched.full = bool(page["full"])
            if not page["pageInfo"]["hasNextPage"]:
                return fetched
            after = str(page["pageInfo"]["endCursor"])
        except (KeyError, TypeError) as exc:
            raise PeerUnavailable(
                f"{endpoint} answered garbage: no {exc} in a changes page"
            ) from exc


async def _changes(
    client: httpx.AsyncClient, endpoint: str, headers: dict[str, str], variables: dict[str, Any]
) -> dict[str, Any]:
    try:
        response = await client.post(
            endpoint, json={"query": CHANGES, "variables": variables}, headers=headers
        )
    except httpx.HTTPError as exc:
        raise PeerUnavailable(f"{endpoint}: {type(exc).__name__} {exc}".strip()) from exc
    if response.status_code in (401, 403):
        raise PeerUnavailable(f"{endpoint} refused the token ({response.status_code})")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise PeerUnavailable(f"{endpoint} answered {response.status_code} with no JSON") from exc
    if not isinstance(body, dict):
        raise PeerUnavailable(f"{endpoint} answered garbage: {str(body)[:200]}")
    errors = body.get("errors")
    if errors or response.status_code != 200:
        first = errors[0] if isinstance(errors, list) and errors else None
        message = first.get("message") if isinstance(first, dict) else str(body)[:200]
        raise PeerUnavailable(f"{endpoint} answered {response.status_code}: {message}")
    data = body.get("data")
    page = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(page, dict):
        raise PeerUnavailable(f"{endpoint} answered garbage: no changes page")
    return page


def _take(fetched: Fetched, node: dict[str, Any], endpoint: str) -> None:
    if node["removed"] or node["unit"] or node["peer"]:
        fetched.removed.append(str(node["ref"]))
        return
    location = f"{endpoint}#{node['ref']}"
    found = raw_entity(node["descriptor"], None, location)
    if isinstance(found, RawEntity) and found.ref == node["ref"]:
        fetched.entities.append(found)
        return
    reason = "its descriptor names another ref" if isinstance(found, RawEntity) else found.reason
    fetched.rejected.append(Rejection(location, reason, str(node["ref"])))
