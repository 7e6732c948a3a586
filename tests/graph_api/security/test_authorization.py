"""Who may do what: team-scoped editors, admins, the audit trail, tokens, HTTP 401."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.app import create_app
from graph_api.security import Policy, Viewer
from graph_api.security.tokens import create_token, hash_secret, token_status, viewer_for_secret
from graph_api.settings import Settings
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: org}
spec: {type: organization, children: [team-a, team-b]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: [team-a1]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a1}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: a-svc}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: a1-svc}
spec: {type: service, lifecycle: production, owner: team-a1}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: b-svc}
spec: {type: service, lifecycle: production, owner: team-b}
"""


def descriptor(name: str, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "experimental", "owner": owner},
    }


UPSERT = "mutation($d: [JSON!]!) { upsertEntities(descriptors: $d) { added updated rejected { reason } } }"
DELETE = "mutation($r: String!) { deleteEntity(ref: $r) { deleted } }"


@pytest.fixture
async def catalog(embedded: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG).lstrip(), encoding="utf-8")
    (report,) = await load_files(embedded, [path], actor="cli:tester")
    assert report.ok
    return embedded


async def run(store: EmbeddedStore, viewer: Viewer, query: str, **variables: Any) -> Any:
    context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
    return await build_schema().execute(query, variable_values=variables, context_value=context)


def editor(team: str) -> Viewer:
    return Viewer(name="token:ed", role="editor", team=f"group:default/{team}", authenticated=True)


def codes(result: Any) -> list[str]:
    return [e.extensions["code"] for e in result.errors or []]


async def test_editor_changes_only_what_its_teams_own(catalog: EmbeddedStore) -> None:
    ed = editor("team-a")
    admin = Viewer.local_admin("cli:root")
    await run(catalog, admin, UPSERT, d=[descriptor("api-b", "team-b")])
    ok = await run(catalog, ed, UPSERT, d=[descriptor("new-a", "team-a"), descriptor("new-a1", "team-a1")])
    assert ok.errors is None
    assert ok.data["upsertEntities"]["added"] == ["component:default/new-a", "component:default/new-a1"]
    again = await run(catalog, ed, UPSERT, d=[descriptor("new-a", "team-a1")])
    assert again.data["upsertEntities"]["updated"] == ["component:default/new-a"]
    # An entity a file source defines is not the API's to overwrite, even for its owners.
    conflict = await run(catalog, ed, UPSERT, d=[descriptor("a-svc", "team-a")])
    assert "already defined by source file:" in conflict.data["upsertEntities"]["rejected"][0]["reason"]
    denied = [
        [descriptor("api-b", "team-b")],  # another team's entity
        [descriptor("api-b", "team-a")],  # taking another team's entity over
        [descriptor("new-a", "team-b")],  # giving one away
        [descriptor("orphan", "team-a"), descriptor("x", "team-b")],  # all or nothing
    ]
    for docs in denied:
        result = await run(catalog, ed, UPSERT, d=docs)
        assert codes(result) == ["FORBIDDEN"], docs
    b = (await catalog.get_entities(["component:default/api-b"]))[0]
    assert b is not None and b.owner == "group:default/team-b"
    assert (await catalog.get_entities(["component:default/orphan"]))[0] is None
    assert codes(await run(catalog, ed, DELETE, r="b-svc")) == ["FORBIDDEN"]
    assert (await run(catalog, ed, DELETE, r="a1-svc")).data == {"deleteEntity": {"deleted": True}}


async def test_viewers_and_anonymous_cannot_change(catalog: EmbeddedStore) -> None:
    viewer = Viewer(name="token:v", role="viewer", team="group:default/team-a", authenticated=True)
    assert codes(await run(catalog, viewer, DELETE, r="a-svc")) == ["FORBIDDEN"]
    assert codes(await run(catalog, Viewer.anonymous(), DELETE, r="a-svc")) == ["UNAUTHENTICATED"]
    assert codes(await run(catalog, Viewer.anonymous(), UPSERT, d=[descriptor("z", "team-a")])) == [
        "UNAUTHENTICATED"
    ]


async def test_audit_trail_records_loads_and_mutations(catalog: EmbeddedStore) -> None:
    admin = Viewer.local_admin("cli:root")
    await run(catalog, admin, UPSERT, d=[descriptor("c-svc", "team-b")])
    before = (await catalog.get_entities(["component:default/c-svc"]))[0]
    assert before is not None
    await run(catalog, admin, UPSERT, d=[descriptor("c-svc", "team-a")])
    await run(catalog, admin, DELETE, r="a-svc")
    query = """query($ref: String, $actor: String) { auditLog(ref: $ref, actor: $actor) {
        totalCount edges { node { actor action source changes { ref before after } } } } }"""
    result = await run(catalog, admin, query)
    log = result.data["auditLog"]
    assert log["totalCount"] == 4
    actions = [(e["node"]["actor"], e["node"]["action"]) for e in log["edges"]]
    assert actions == [
        ("cli:root", "deleteEntity"),
        ("cli:root", "upsertEntities"),
        ("cli:root", "upsertEntities"),
        ("cli:tester", "load files"),
    ]
    deletion, upsert, _, load = (e["node"] for e in log["edges"])
    assert deletion["changes"] == [
        {"ref": "component:default/a-svc", "before": deletion["changes"][0]["before"], "after": None}
    ] and deletion["changes"][0]["before"]
    assert upsert["changes"][0]["before"] == before.hash
    assert upsert["changes"][0]["after"] != before.hash
    assert len(load["changes"]) == 7 and all(c["before"] is None for c in load["changes"])
    by_ref = await run(catalog, admin, query, ref="component:c-svc")
    assert by_ref.data["auditLog"]["totalCount"] == 2
    by_actor = await run(catalog, admin, query, actor="cli:tester")
    assert by_actor.data["auditLog"]["totalCount"] == 1
    assert codes(await run(catalog, editor("team-a"), query)) == ["FORBIDDEN"]
    # An unchanged re-load appends nothing.
    assert (await catalog.audit_events(actor=None, ref=None, offset=0, limit=10))[1] == 4


async def test_tokens_store_only_a_hash_and_expire_and_revoke(embedded: EmbeddedStore) -> None:
    token, secret = await create_token(
        embedded, name="ci", team="group:default/team-a", role="editor", expires_at=None
    )
    (listed,) = await embedded.list_tokens()
    assert listed.hash == hash_secret(secret) and secret not in repr(listed)
    viewer = await viewer_for_secret(embedded, secret)
    assert viewer is not None and (viewer.role, viewer.team) == ("editor", "group:default/team-a")
    assert await viewer_for_secret(embedded, secret + "x") is None
    assert await embedded.revoke_token(token.id, datetime.now(UTC).isoformat())
    assert not await embedded.revoke_token(token.id, datetime.now(UTC).isoformat())
    assert await viewer_for_secret(embedded, secret) is None
    soon = datetime.now(UTC) + timedelta(hours=1)
    short, short_secret = await create_token(embedded, name="s", team=None, role="viewer", expires_at=soon)
    assert token_status(short) == "active"
    assert token_status(short, now=soon + timedelta(seconds=1)) == "expired"
    assert await viewer_for_secret(embedded, short_secret) is not None


@pytest.fixture
async def http(catalog: EmbeddedStore) -> AsyncIterator[tuple[httpx.AsyncClient, EmbeddedStore]]:
    app = create_app(catalog, Settings(store=catalog.path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, catalog


async def test_http_requires_credentials(http: tuple[httpx.AsyncClient, EmbeddedStore]) -> None:
    client, store = http
    body = {"query": "{ entities { totalCount } }"}
    anonymous = await client.post("/graphql", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await client.post("/graphql", json=body, headers={"Authorization": "Bearer dgp_nope"})
    assert bad.status_code == 401
    basic = await client.post("/graphql", json=body, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    assert (await client.get("/export/graph")).status_code == 401
    _, secret = await create_token(store, name="r", team=None, role="viewer", expires_at=None)
    ok = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200 and ok.json()["data"]["entities"]["totalCount"] == 7
    ide = await client.get("/graphql", headers={"Accept": "text/html"})
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()


async def test_anonymous_read_when_enabled(catalog: EmbeddedStore) -> None:
    app = create_app(catalog, Settings(store=catalog.path, allow_anonymous_read=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        read = await client.post("/graphql", json={"query": "{ entities { totalCount } }"})
        assert read.status_code == 200 and read.json()["data"]["entities"]["totalCount"] == 7
        write = await client.post(
            "/graphql", json={"query": DELETE, "variables": {"r": "a-svc"}}
        )
        assert write.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
