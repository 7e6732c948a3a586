"""Helpers for federation tests: descriptors, devgraph instances serving their own embedded
stores on 127.0.0.1 (in a thread, or as a ``devgraph serve`` process), and GraphQL on a hub.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _server import DEADLINE_S, wait_for

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.ingest import SourceDocument, apply_source, validate
from graph_api.security import Policy, Viewer
from graph_api.security.tokens import create_token
from graph_api.settings import RateLimit, Settings
from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]
API_VERSION = "backstage.io/v1alpha1"
UPSERT = "mutation($d: [JSON!]!) { upsertEntities(descriptors: $d) { added updated rejected { reason } } }"
DELETE = "mutation($ref: String!) { deleteEntity(ref: $ref) { deleted } }"


def component(name: str, *depends: str, owner: str = "team", **metadata: Any) -> dict[str, Any]:
    """A Component descriptor; ``depends`` are refs as written (``component:x``)."""
    spec: dict[str, Any] = {"type": "service", "lifecycle": "production", "owner": owner}
    if depends:
        spec["dependsOn"] = list(depends)
    return {
        "apiVersion": API_VERSION,
        "kind": "Component",
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


def group(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Group",
        "metadata": {"name": name},
        "spec": {"type": "team", "children": []},
    }


@dataclass
class Instance:
    """A devgraph serving its own store; ``token`` reads it (viewer), ``admin`` changes it."""

    name: str
    base: str
    path: Path
    token: str
    admin: str

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.admin}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as client:
            body = client.post("/graphql", json={"query": query, "variables": variables}).json()
        assert "errors" not in body, body
        return body["data"]

    def upsert(self, *descriptors: dict[str, Any]) -> None:
        result = self.gql(UPSERT, d=list(descriptors))["upsertEntities"]
        assert result["rejected"] == [], result

    def delete(self, ref: str) -> None:
        assert self.gql(DELETE, ref=ref)["deleteEntity"]["deleted"]


async def prepare_store(path: Path, descriptors: list[dict[str, Any]]) -> tuple[str, str]:
    """A new store holding ``descriptors`` as if upserted over its API (so tests may change
    them there later); a viewer and an admin token."""
    store = EmbeddedStore(path)
    await store.open()
    try:
        documents = [
            SourceDocument(d, f"descriptors[{i}]", "api") for i, d in enumerate(descriptors)
        ]
        entities, rejected = validate(documents)
        assert not rejected, rejected
        await apply_source(store, "api", entities, mode="delta")
        _, viewer = await create_token(store, name="hub", team=None, role="viewer", expires_at=None)
        _, admin = await create_token(store, name="ops", team=None, role="admin", expires_at=None)
    finally:
        await store.close()
    return viewer, admin


def instance_settings(path: Path, **settings: Any) -> Settings:
    return Settings(store=path, rate_limit=RateLimit(enabled=False), **settings)


@contextlib.contextmanager
def devgraph_process(path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``devgraph serve`` as its own process on ``port``, ready when this yields."""
    env = {**os.environ, "DEVGRAPH_RATE_LIMIT__ENABLED": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "devgraph.cli", "serve", "--store", str(path), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )

    def ready() -> bool | None:
        if process.poll() is not None:
            raise AssertionError(f"devgraph serve exited with {process.returncode}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        except httpx.HTTPError:
            return None
        return True if response.status_code == 200 else None

    try:
        wait_for(ready, "devgraph serve", DEADLINE_S * 2)
        yield process
    finally:
        process.kill()
        process.wait(timeout=DEADLINE_S)


async def hub_gql(store: GraphStore, query: str, **variables: Any) -> dict[str, Any]:
    """Run GraphQL on the hub in-process, as ``devgraph query`` does."""
    context = RequestContext(store=store, viewer=Viewer.local_admin("t"), policy=Policy(store))
    result = await SCHEMA.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, [e.formatted for e in result.errors]
    assert result.data is not None
    return result.data


SCHEMA = build_schema()
