"""API tokens: random secrets shown once; only their SHA-256 is stored.

A token secret carries 256 bits of randomness, so a fast hash is enough to make the stored
value useless to a reader of the store (no dictionary to try), unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from graph_api.security.policy import Viewer
from graph_api.store import ApiToken, GraphStore
from graph_api.store._records import now_iso

PREFIX = "dgp_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(
    store: GraphStore, *, name: str, team: str | None, role: str, expires_at: datetime | None
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret, which is never stored.

    Example:
        >>> token, secret = await create_token(store, name="ci", team=None,
        ...                                    role="viewer", expires_at=None)  # doctest: +SKIP
    """
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=uuid.uuid4().hex[:12],
        name=name,
        team=team,
        role=role,
        hash=hash_secret(secret),
        created_at=now_iso(),
        expires_at=expires_at.astimezone(UTC).isoformat() if expires_at else None,
    )
    await store.put_token(token)
    return token, secret


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None:
        moment = now or datetime.now(UTC)
        if datetime.fromisoformat(token.expires_at) <= moment:
            return "expired"
    return "active"


async def viewer_for_secret(store: GraphStore, secret: str) -> Viewer | None:
    """The viewer a presented secret stands for, or None if it is unknown, expired or revoked."""
    token = await store.token_by_hash(hash_secret(secret))
    if token is None or token_status(token) != "active":
        return None
    return Viewer(name=f"token:{token.name}", role=token.role, team=token.team, authenticated=True)
