"""Push webhooks from GitHub and GitLab: re-sync just the pushed repository.

``POST /hooks/git``. GitHub signs the body (``X-Hub-Signature-256: sha256=<HMAC-SHA256>``),
GitLab sends the shared secret (``X-Gitlab-Token``); both are checked in constant time. A push
to a repository the catalog already loads from is answered 202 and synced in the background;
other events get 204, a bad signature 401, a malformed payload 400, and a repository the
catalog does not load from 404 (a webhook never adds sources).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph_api.store import GraphStore
from loaders.git.repository import RepositorySpec
from loaders.git.source import GitLoadOptions, load_git

PATH = "/hooks/git"
log = logging.getLogger("devgraph.webhook")


def git_webhook_route(
    store: GraphStore, secret: str, options: GitLoadOptions | None = None
) -> Route:
    """The webhook route, for ``create_app(store, settings, routes=[...])``.

    Args:
        store: the app's store (opened and closed by the app).
        secret: the secret configured on the forge's webhook.
        options: how the pushed repository is read (cache folder, descriptor globs).
    """
    options = options or GitLoadOptions(actor="webhook")
    locks: dict[str, asyncio.Lock] = {}

    async def sync(url: str) -> None:
        key = RepositorySpec.parse(url).key
        # One sync per repository at a time: two pushes must not fetch into one clone at once.
        async with locks.setdefault(key, asyncio.Lock()):
            try:
                (report,) = await load_git(store, [url], options)
            except Exception:  # noqa: BLE001 - a background task has no caller to tell
                log.exception("webhook sync of %s failed", key)
                return
        log.info("webhook sync of %s: %s", key, json.dumps(report.summary()))

    async def receive(request: Request) -> Response:
        body = await request.body()
        forge = _verify(request, body, secret)
        if forge is None:
            return JSONResponse({"error": "missing or invalid signature"}, status_code=401)
        if not _is_push(request, forge):
            return Response(status_code=204)
        try:
            payload = json.loads(body)
            url = _clone_url(payload, forge)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"malformed push payload: {exc}"}, status_code=400)
        key = RepositorySpec.parse(url).key
        if not await store.source_states([key]):
            return JSONResponse({"error": f"{key} is not a loaded repository"}, status_code=404)
        return JSONResponse(
            {"accepted": key}, status_code=202, background=BackgroundTask(sync, url)
        )

    return Route(PATH, receive, methods=["POST"])


def _verify(request: Request, body: bytes, secret: str) -> str | None:
    """``github`` or ``gitlab`` when the request carries that forge's valid proof."""
    signature = request.headers.get("x-hub-signature-256")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return "github" if hmac.compare_digest(signature, expected) else None
    token = request.headers.get("x-gitlab-token")
    if token is not None:
        return "gitlab" if hmac.compare_digest(token.encode(), secret.encode()) else None
    return None


def _is_push(request: Request, forge: str) -> bool:
    if forge == "github":
        return request.headers.get("x-github-event") == "push"
    return request.headers.get("x-gitlab-event") == "Push Hook"


def _clone_url(payload: Any, forge: str) -> str:
    """The pushed repository's clone URL from a push payload."""
    if not isinstance(payload, dict):
        raise TypeError("the payload is not a JSON object")
    if forge == "github":
        url = payload["repository"]["clone_url"]
    else:
        url = (payload.get("project") or payload["repository"])["git_http_url"]
    if not isinstance(url, str) or not url:
        raise ValueError("no clone URL in the payload")
    return url
