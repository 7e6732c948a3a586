"""OIDC/JWT bearer tokens, verified with PyJWT against the issuer's JWKS."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from graph_api.model import RefError, normalize_ref
from graph_api.security.policy import Viewer
from graph_api.settings import Oidc


class OidcVerifier:
    """Verifies signature, expiry, issuer and audience; maps claims to a viewer.

    The JWKS is fetched lazily and cached by PyJWT's client (keys rotate by ``kid``).
    """

    def __init__(self, config: Oidc) -> None:
        if not (config.jwks_url and config.issuer and config.audience):
            raise ValueError("OIDC needs jwks_url, issuer and audience")
        self.config = config
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True, timeout=10)

    def _decode(self, token: str) -> dict[str, Any]:
        key = self._jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=self.config.algorithms,
            audience=self.config.audience,
            issuer=self.config.issuer,
            options={"require": ["exp", "iss", "aud"]},
        )
        return claims

    async def viewer(self, token: str) -> Viewer | None:
        """The viewer for a valid token; None for any invalid one (never raises for input)."""
        try:
            claims = await asyncio.to_thread(self._decode, token)
        except jwt.PyJWTError:
            return None
        team = claims.get(self.config.team_claim)
        role = claims.get(self.config.role_claim)
        name = claims.get(self.config.name_claim)
        try:
            team_ref = normalize_ref(team, default_kind="Group") if isinstance(team, str) else None
        except RefError:
            team_ref = None
        return Viewer(
            name=f"oidc:{name}",
            role=role if isinstance(role, str) else "viewer",
            team=team_ref,
            authenticated=True,
        )
