"""``devgraph peers`` and ``devgraph federate`` as people and scripts use them, with a file
peer (a Backstage catalog export) and a real store folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devgraph.cli import app

runner = CliRunner()


def export(path: Path, *names: str) -> Path:
    """A Backstage ``by-query`` response saved as JSON, listing components ``names``."""
    items = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "etag": name},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team"},
            "relations": [{"type": "ownedBy", "targetRef": "group:default/team"}],
        }
        for name in names
    ]
    path.write_text(json.dumps({"items": items, "totalItems": len(items), "pageInfo": {}}))
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + (result.stderr if result.stderr_bytes else "")


def test_add_sync_list_and_remove_a_file_peer(tmp_path: Path) -> None:
    store = str(tmp_path / "hub")
    dump = export(tmp_path / "catalog.json", "billing", "payroll")
    code, _ = run(
        "peers",
        "add",
        "hr",
        "--kind",
        "file",
        "--url",
        str(dump),
        "--unit",
        "people",
        "--store",
        store,
    )
    assert code == 0
    code, out = run("federate", "sync", "--json", "--store", store)
    assert code == 0
    (summary,) = json.loads(out)
    assert (summary["peer"], summary["status"], summary["added"]) == ("hr", "OK", 2)
    code, out = run(
        "query", '{ entities(filter: {unit: ["people"]}) { nodes { ref } } }', "--store", store
    )
    refs = [n["ref"] for n in json.loads(out)["data"]["entities"]["nodes"]]
    assert refs == ["component:people/billing", "component:people/payroll"]
    export(tmp_path / "catalog.json")
    code, out = run("federate", "sync", "hr", "--json", "--store", store)
    assert code == 1 and json.loads(out)[0]["status"] == "HELD"
    code, out = run("federate", "sync", "hr", "--accept-shrink", "--json", "--store", store)
    assert code == 0 and json.loads(out)[0]["removed"] == 2
    code, out = run("peers", "list", "--json", "--store", store)
    (peer,) = json.loads(out)
    assert (peer["name"], peer["unit"], peer["status"], peer["entity_count"]) == (
        "hr",
        "people",
        "OK",
        0,
    )
    assert run("peers", "remove", "hr", "--store", store)[0] == 0
    assert json.loads(run("peers", "list", "--json", "--store", store)[1]) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kind", "gitlab", "--url", "x"], "kind 'gitlab': one of devgraph, backstage, file"),
        (["--kind", "file", "--url", "x", "--unit", "A--B"], "unit 'A--B' must be"),
        (["--kind", "devgraph", "--url", "x", "--token-env", "dgp_s3cr3t-token"], "NAME of an"),
    ],
)
def test_bad_peer_options_are_refused(tmp_path: Path, options: list[str], message: str) -> None:
    code, out = run("peers", "add", "p", *options, "--store", str(tmp_path / "hub"))
    assert code == 2 and message in out


def test_a_unit_has_one_peer_and_unknown_peers_are_named(tmp_path: Path) -> None:
    store = str(tmp_path / "hub")
    assert (
        run("peers", "add", "a", "--kind", "file", "--url", "x", "--unit", "u", "--store", store)[0]
        == 0
    )
    code, out = run(
        "peers", "add", "b", "--kind", "file", "--url", "y", "--unit", "u", "--store", store
    )
    assert code == 2 and "already peer a's" in out
    code, out = run("federate", "sync", "nope", "--store", store)
    assert code == 2 and "no peer named nope" in out
    code, out = run("federate", "sync", "a", "--json", "--store", store)
    assert code == 1 and json.loads(out)[0]["status"] == "ERROR"
