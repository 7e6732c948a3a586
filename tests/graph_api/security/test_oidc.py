"""OIDC bearer tokens verified against a real JWKS endpoint served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from graph_api.security.oidc import OidcVerifier
from graph_api.settings import Oidc

ISSUER = "https://login.example.test/"
AUDIENCE = "devgraph"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"signing": signing, "stranger": stranger}


@pytest.fixture(scope="module")
def jwks_url(keys: dict[str, Any]) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(keys["signing"].public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def token(key: Any, **overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "jane",
        "exp": int(time.time()) + 300,
        "team": "Team-Payments",
        "role": "editor",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def verifier(jwks_url: str) -> OidcVerifier:
    return OidcVerifier(Oidc(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE))


async def test_valid_token_maps_claims_to_a_viewer(verifier: OidcVerifier, keys: dict[str, Any]) -> None:
    viewer = await verifier.viewer(token(keys["signing"]))
    assert viewer is not None
    assert (viewer.name, viewer.role, viewer.team, viewer.authenticated) == (
        "oidc:jane",
        "editor",
        "group:default/team-payments",
        True,
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example.test/"},
        {"exp": int(time.time()) - 60},
        {"exp": None},
    ],
    ids=["audience", "issuer", "expired", "no-expiry"],
)
async def test_invalid_claims_are_rejected(
    verifier: OidcVerifier, keys: dict[str, Any], overrides: dict[str, Any]
) -> None:
    assert await verifier.viewer(token(keys["signing"], **overrides)) is None


async def test_wrong_signature_and_garbage_are_rejected(
    verifier: OidcVerifier, keys: dict[str, Any]
) -> None:
    assert await verifier.viewer(token(keys["stranger"])) is None
    assert await verifier.viewer("not-a-jwt") is None
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}, None, algorithm="none")
    assert await verifier.viewer(unsigned) is None


def test_incomplete_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="jwks_url, issuer and audience"):
        OidcVerifier(Oidc(jwks_url="http://127.0.0.1:1/jwks"))
