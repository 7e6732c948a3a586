"""Who is calling: an API token, an OIDC bearer token, or nobody."""

from __future__ import annotations

from graph_api.security.oidc import OidcVerifier
from graph_api.security.policy import Viewer
from graph_api.security.tokens import PREFIX, viewer_for_secret
from graph_api.settings import Settings
from graph_api.store import GraphStore


class AuthenticationFailed(Exception):
    """Credentials were presented and are not valid: always HTTP 401."""


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Viewer`."""

    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.store = store
        self.oidc = OidcVerifier(settings.oidc) if settings.oidc.jwks_url else None

    async def authenticate(self, authorization: str | None) -> Viewer:
        if not authorization:
            return Viewer.anonymous()
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            raise AuthenticationFailed("use Authorization: Bearer <token>")
        if credentials.startswith(PREFIX):
            viewer = await viewer_for_secret(self.store, credentials)
        elif self.oidc is not None:
            viewer = await self.oidc.viewer(credentials)
        else:
            viewer = None
        if viewer is None:
            raise AuthenticationFailed("invalid, expired or revoked token")
        return viewer
