"""Malformed input of every kind the API and the loaders accept: each gets a clear error, never
a 5xx or a traceback, and nothing already in the catalog is lost.

GraphQL over HTTP is spoken to a real uvicorn server over the demo estate, as its admin (so a
request that slipped through would really delete); descriptor files go through ``load_files``
and, once, through the ``devgraph load files`` command.

Cases marked ``xfail(strict=True)`` are bugs this suite found and the reason names; each turns
into a failure the day it is fixed, so its marker goes with the fix.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from _server import DemoServer, assert_no_internal_error

from graph_api.api.schema import build_schema
from graph_api.api.types import encode_cursor
from graph_api.settings import Settings
from graph_api.store import EntityFilter, EntityOrder, GraphStore
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files

VICTIM = "component:default/auth-service"
DELETE = 'mutation { deleteEntity(ref: "auth-service") { ref } }'
STATS = "{ catalogStats { kind count } }"
LOOKUP = "query($r: String!) { entity(ref: $r) { ref } }"
JSON_TYPE = {"Content-Type": "application/json"}
UPSERT = """mutation($d: [JSON!]!) {
  upsertEntities(descriptors: $d) { added updated rejected { location reason ref } }
}"""


def nested(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def post(**kwargs: Any) -> dict[str, Any]:
    return {"method": "POST", **kwargs}


HTTP_CASES = [
    pytest.param(post(content=b'{"query": ', headers=JSON_TYPE), id="not-json"),
    pytest.param(post(content=b"", headers=JSON_TYPE), id="empty-body"),
    pytest.param(post(content=b"[1, 2]", headers=JSON_TYPE), id="array-of-numbers"),
    pytest.param(post(json=[{"query": DELETE}, {"query": STATS}]), id="batch"),
    *(
        pytest.param(
            post(content=body, headers=JSON_TYPE),
            id=f"json-{name}",
        )
        for name, body in [
            ("string", b'"{ catalogStats { count } }"'),
            ("number", b"42"),
            ("null", b"null"),
        ]
    ),
    pytest.param(post(json={}), id="missing-query"),
    pytest.param(post(json={"query": None}), id="null-query"),
    pytest.param(post(json={"query": 5}), id="query-number"),
    pytest.param(post(json={"query": [DELETE]}), id="query-list"),
    pytest.param(post(json={"query": STATS, "variables": [1]}), id="variables-list"),
    pytest.param(post(json={"query": STATS, "variables": "{}"}), id="variables-string"),
    pytest.param(post(json={"query": LOOKUP, "variables": {"r": 5}}), id="variable-wrong-type"),
    pytest.param(post(json={"query": LOOKUP, "variables": {}}), id="variable-missing"),
    pytest.param(post(json={"query": DELETE, "operationName": "Nope"}), id="unknown-operation"),
    pytest.param(post(json={"query": DELETE, "operationName": 5}), id="operation-name-number"),
    pytest.param(
        post(json={"query": '{ entities(after: "' + "x" * 1_500_000 + '") { totalCount } }'}),
        id="huge-string-literal",
    ),
    pytest.param(
        post(json={"query": '{ entity(ref: "' + "x" * 3_000_000 + '") { ref } }'}),
        id="huge-string-over-body-limit",
    ),
    pytest.param(
        post(
            json={
                "query": "query($k: [String!]) { entities(filter: {kind: $k}) { totalCount } }",
                "variables": {"k": json.loads(nested(200))},
            }
        ),
        id="nested-lists-in-typed-variable",
    ),
    pytest.param(
        post(
            content=b'{"query": "query($d: [JSON!]!) { upsertEntities(descriptors: $d) '
            b'{ added } }", "variables": {"d": ' + nested(5000).encode() + b"}}",
            headers=JSON_TYPE,
        ),
        id="nested-lists-in-json-variable",
    ),
    pytest.param(
        post(content=b'{"query": "{ entity(ref: \\"\xff\xfe\\") { ref } }"}', headers=JSON_TYPE),
        id="invalid-utf8",
    ),
    pytest.param(post(json={"query": '{ entity(ref: "\\ud800") { ref } }'}), id="lone-surrogate"),
    pytest.param(
        post(json={"query": "{ entities(filter: {kind: " + nested(300) + "}) { totalCount } }"}),
        id="nested-list-literal",
    ),
    pytest.param(
        post(content=json.dumps({"query": DELETE}), headers={"Content-Type": "text/plain"}),
        id="content-type-text",
    ),
    pytest.param(
        post(
            content=b"query=" + DELETE.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        id="content-type-form",
    ),
    pytest.param(
        post(content=DELETE.encode(), headers={"Content-Type": "application/graphql"}),
        id="content-type-graphql",
    ),
    pytest.param(
        post(content=json.dumps({"query": DELETE}), headers={"Content-Type": ""}),
        id="content-type-missing",
    ),
    pytest.param({"method": "GET", "params": {"query": DELETE}}, id="get-mutation"),
    pytest.param(
        {
            "method": "GET",
            "params": {"query": f"query Q {STATS} mutation M {DELETE[9:]}", "operationName": "M"},
        },
        id="get-mutation-by-operation-name",
    ),
    pytest.param(
        {"method": "GET", "params": {"query": STATS, "variables": "{"}}, id="get-variables-not-json"
    ),
]


def catalog_counts(client: httpx.Client) -> dict[str, int]:
    response = client.post("/graphql", json={"query": STATS})
    assert response.status_code == 200, response.text
    return {row["kind"]: row["count"] for row in response.json()["data"]["catalogStats"]}


def assert_refused(response: httpx.Response) -> None:
    """A 4xx that says why, or GraphQL errors that each say why; nothing internal."""
    assert_no_internal_error(response)
    if response.status_code >= 400:
        assert response.text.strip(), "a refusal must say why"
        return
    assert response.status_code == 200, response.text
    errors = response.json().get("errors")
    assert errors, response.text[:500]
    assert all(isinstance(e.get("message"), str) and e["message"] for e in errors), errors


@pytest.fixture(scope="module")
def client(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with demo_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def baseline(client: httpx.Client) -> dict[str, int]:
    return catalog_counts(client)


@pytest.mark.parametrize("request_args", HTTP_CASES)
def test_malformed_graphql_request_is_refused_cleanly(
    client: httpx.Client, baseline: dict[str, int], request_args: dict[str, Any]
) -> None:
    args = dict(request_args)
    response = client.request(args.pop("method"), "/graphql", **args)
    assert_refused(response)
    # Several cases carry a deleteEntity an admin may run: refused means it did not run.
    assert client.post("/graphql", json={"query": LOOKUP, "variables": {"r": VICTIM}}).json() == {
        "data": {"entity": {"ref": VICTIM}}
    }
    assert catalog_counts(client) == baseline


def descriptor(name: str, **spec: Any) -> dict[str, Any]:
    spec = {"type": "service", "lifecycle": "production", "owner": "group:default/payments", **spec}
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_upsert_rejects_each_broken_descriptor_by_field_and_changes_nothing(
    client: httpx.Client, baseline: dict[str, int]
) -> None:
    owner_query = {"query": '{ entity(ref: "auth-service") { owner { ref } } }'}
    owner_before = client.post("/graphql", json=owner_query).json()
    missing_kind = descriptor("no-kind")
    del missing_kind["kind"]
    broken = [
        5,
        missing_kind,
        descriptor("Bad Name!"),
        descriptor("auth-service", owner="::"),  # an existing entity: it must stay as it is
        descriptor("bad-dependency", dependsOn=["component:"]),
    ]
    response = client.post("/graphql", json={"query": UPSERT, "variables": {"d": broken}})
    assert_no_internal_error(response)
    payload = response.json()["data"]["upsertEntities"]
    assert payload["added"] == [] and payload["updated"] == []
    got = [(r["location"], r["reason"]) for r in payload["rejected"]]
    expected_fields = [
        "document must be a mapping",
        "kind:",
        "metadata.name:",
        "spec.owner:",
        "spec.dependsOn",
    ]
    assert [location for location, _ in got] == [f"descriptors[{i}]" for i in range(5)], got
    for (_, reason), field in zip(got, expected_fields, strict=True):
        assert field in reason, (field, reason)
    assert catalog_counts(client) == baseline
    assert client.post("/graphql", json=owner_query).json() == owner_before


def test_upsert_rejects_a_descriptor_nested_too_deeply(
    client: httpx.Client, baseline: dict[str, int]
) -> None:
    deep = descriptor("too-deep", extra=json.loads(nested(300)))
    response = client.post("/graphql", json={"query": UPSERT, "variables": {"d": [deep]}})
    assert_no_internal_error(response)
    (rejection,) = response.json()["data"]["upsertEntities"]["rejected"]
    assert rejection["location"] == "descriptors[0]"
    assert catalog_counts(client) == baseline


def paged_fields() -> list[str]:
    """Root fields taking a cursor and nothing required, whoever adds them."""
    query = build_schema(Settings())._schema.query_type
    assert query is not None
    return sorted(
        name
        for name, field in query.fields.items()
        if "after" in field.args
        and not any(graphql.is_required_argument(arg) for arg in field.args.values())
    )


@pytest.mark.parametrize("field", paged_fields())
def test_a_forged_cursor_far_past_the_end_gets_an_empty_page(
    client: httpx.Client, field: str
) -> None:
    # The embedded store's engine segfaulted on ORDER BY ... SKIP far past the last row, taking
    # the server down with it (auditLog, before its store method checked the offset); not on
    # every call, hence several.
    query = f"query($a: String) {{ {field}(first: 5, after: $a) {{ edges {{ cursor }} }} }}"
    for offset in (50_000, 1_000_000, 2**31, 2**62):
        variables = {"a": encode_cursor(offset)}
        response = client.post("/graphql", json={"query": query, "variables": variables})
        assert_no_internal_error(response)
        body = response.json()
        if body.get("errors"):
            # A field with cursors of its own shape (changes' page tokens) refuses an offset
            # cursor as the caller's error; the others read it as a page past the end.
            assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        else:
            assert body == {"data": {field: {"edges": []}}}


# -- loaders ---------------------------------------------------------------------------------

TEAM = """apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"""


def component_yaml(name: str, extra: str = "") -> str:
    return f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
{extra}"""


def alias_bomb(levels: int) -> str:
    """Ten-fold alias expansion per level: ``10 ** (levels + 1)`` strings from a few lines."""
    lines = ['  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"  l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# name -> (content, location suffix after the file name, the bug keeping it from passing).
# An unreadable file has no line: it was never parsed (the reason gives the byte offset).
MALFORMED: dict[str, tuple[bytes, str, str | None]] = {
    "syntax-error": (
        component_yaml("victim").replace("name: victim", "name: a: b").encode(),
        ":4",
        None,
    ),
    "binary": (bytes(range(256)) * 4, "", None),
    "list-of-scalars": (b"- a\n- b\n- 3\n", ":1", None),
    "kind-not-a-string": (
        component_yaml("victim").replace("kind: Component", "kind: 5").encode(),
        ":1",
        None,
    ),
    "nested-too-deeply": (
        component_yaml("victim", f"  extra: {nested(300)}\n").encode(),
        ":9",
        None,
    ),
    "alias-bomb": (component_yaml("victim", alias_bomb(3)).encode(), r":\d+", None),
}


# Turning a file that defined an entity malformed must keep that entity.
def write_catalog(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "team.yaml").write_text(TEAM, encoding="utf-8")
    (folder / "victim.yaml").write_text(component_yaml("victim"), encoding="utf-8")
    (folder / "other.yaml").write_text(
        component_yaml("other", "  dependsOn: [component:victim]\n"), encoding="utf-8"
    )
    return folder


async def snapshot(store: GraphStore) -> dict[str, str | None]:
    """Every entity's ref and content hash."""
    records, _ = await store.find_entities(EntityFilter(), EntityOrder.REF, False, 0, 10_000)
    return {r.ref: r.hash for r in records}


def loader_cases(bugs: dict[str, str]) -> list[Any]:
    params = []
    for name, (content, suffix, bug) in MALFORMED.items():
        reason = bug or bugs.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(content, suffix, id=name, marks=marks))
    return params


def assert_reported(report: Any, path: Path, suffix: str) -> None:
    assert not report.ok
    (rejection,) = report.rejected
    assert re.fullmatch(re.escape(str(path)) + suffix, rejection.location), rejection
    assert rejection.reason


@pytest.mark.parametrize(("content", "suffix"), loader_cases({}))
async def test_a_new_malformed_file_is_reported_and_changes_nothing(
    embedded: EmbeddedStore, tmp_path: Path, content: bytes, suffix: str
) -> None:
    catalog = write_catalog(tmp_path / "catalog")
    (first,) = await load_files(embedded, [catalog], fetch_remote=False)
    assert first.ok, first.rejected
    before = await snapshot(embedded)
    bad = catalog / "zz-new.yaml"
    bad.write_bytes(content.replace(b"victim", b"newcomer"))
    (report,) = await load_files(embedded, [catalog], fetch_remote=False)
    assert_reported(report, bad, suffix)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert await snapshot(embedded) == before


@pytest.mark.parametrize(("content", "suffix"), loader_cases({}))
async def test_a_file_turned_malformed_keeps_what_it_defined(
    embedded: EmbeddedStore, tmp_path: Path, content: bytes, suffix: str
) -> None:
    catalog = write_catalog(tmp_path / "catalog")
    await load_files(embedded, [catalog], fetch_remote=False)
    before = await snapshot(embedded)
    victim = catalog / "victim.yaml"
    victim.write_bytes(content)
    (report,) = await load_files(embedded, [catalog], fetch_remote=False)
    assert_reported(report, victim, suffix)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert await snapshot(embedded) == before


async def test_an_empty_file_defines_nothing(embedded: EmbeddedStore, tmp_path: Path) -> None:
    """Backstage reads an empty file as zero documents, not as an error; so does devgraph."""
    catalog = write_catalog(tmp_path / "catalog")
    await load_files(embedded, [catalog], fetch_remote=False)
    before = await snapshot(embedded)
    (catalog / "empty.yaml").write_bytes(b"")
    (report,) = await load_files(embedded, [catalog], fetch_remote=False)
    assert report.ok, report.rejected
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert await snapshot(embedded) == before


async def test_a_byte_order_mark_is_not_part_of_the_document(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    catalog = write_catalog(tmp_path / "catalog")
    await load_files(embedded, [catalog], fetch_remote=False)
    before = await snapshot(embedded)
    victim = catalog / "victim.yaml"
    victim.write_bytes(b"\xef\xbb\xbf" + victim.read_bytes())
    (report,) = await load_files(embedded, [catalog], fetch_remote=False)
    assert report.ok, report.rejected
    assert await snapshot(embedded) == before


async def stored(store_path: Path, catalog: Path | None = None) -> dict[str, str | None]:
    """Load ``catalog`` (if given) into the store at ``store_path``; then its snapshot."""
    store = EmbeddedStore(store_path)
    await store.open()
    try:
        if catalog is not None:
            (report,) = await load_files(store, [catalog], fetch_remote=False)
            assert report.ok, report.rejected
        return await snapshot(store)
    finally:
        await store.close()


def test_cli_load_reports_every_malformed_file_and_exits_1(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog")
    store_path = tmp_path / "store"
    before = asyncio.run(stored(store_path, catalog))
    expected = []
    for name, (content, suffix, bug) in MALFORMED.items():
        if bug is None:  # the buggy ones crash or load; their own tests above say so
            path = catalog / f"new-{name}.yaml"
            path.write_bytes(content.replace(b"victim", b"newcomer"))
            expected.append(re.escape(str(path)) + suffix)
    (catalog / "new-empty.yaml").write_bytes(b"")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "devgraph.cli",
            "load",
            "files",
            str(catalog),
            "--store",
            str(store_path),
            "--json",
            "--no-fetch-remote",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (summary,) = json.loads(done.stdout)
    rejected = summary["rejected"]
    assert len(rejected) == len(expected), rejected
    for pattern in expected:
        assert any(re.fullmatch(pattern, r["location"]) and r["reason"] for r in rejected), pattern
    assert (summary["added"], summary["updated"], summary["removed"]) == (0, 0, 0)
    assert asyncio.run(stored(store_path)) == before
