"""Loading descriptor files: real YAML on disk into the real embedded store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import loaders.files as loaders_files
from graph_api.store import EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.files import load_files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def component(name: str, owner: str = "team-a", extra: str = "") -> str:
    return f"""
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: {name}
    spec:
      type: service
      lifecycle: production
      owner: {owner}
    {extra}"""


async def refs(store: EmbeddedStore) -> list[str]:
    records, _ = await store.find_entities(EntityFilter(), EntityOrder.REF, False, 0, 10_000)
    return [r.ref for r in records]


async def test_backstage_examples_load_unchanged(
    embedded: EmbeddedStore, backstage_examples: Path
) -> None:
    (report,) = await load_files(embedded, [backstage_examples / "all.yaml"], fetch_remote=False)
    assert report.rejected == []
    # 32 entities plus the 7 Location entities that all.yaml reaches (SOURCE.md).
    assert len(report.added) == 39
    stats = await embedded.stats()
    assert stats == {
        "API": 10,
        "Component": 13,
        "Domain": 3,
        "System": 3,
        "Resource": 1,
        "AiResource": 2,
        "Location": 7,
    }
    # The three URL placeholders cannot be fetched offline: loaded, with a warning each.
    assert sum("not fetched" in w for w in report.warnings) == 3
    # A relative $text placeholder is replaced by the file's content.
    webhook = (await embedded.get_entities(["api:default/petstore-webhook"]))[0]
    assert webhook is not None and "webhooks:" in webhook.descriptor["spec"]["definition"]
    # Owners outside all.yaml (users and groups examples) stay as unresolved refs.
    unresolved = {target for _, _, target in await embedded.unresolved_refs()}
    assert {"group:default/team-a", "user:default/guest"} <= unresolved
    # An unchanged re-run writes nothing.
    writes = embedded.writes
    (again,) = await load_files(embedded, [backstage_examples / "all.yaml"], fetch_remote=False)
    assert (again.added, again.updated, again.removed, again.unchanged) == ([], [], [], 39)
    assert embedded.writes == writes


async def test_rerun_updates_and_removes(embedded: EmbeddedStore, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    write(catalog / "a.yaml", component("a") + "---" + component("b"))
    write(catalog / "nested" / "c.yml", component("c"))
    write(catalog / ".hidden" / "x.yaml", component("hidden"))
    (first,) = await load_files(embedded, [catalog])
    assert sorted(first.added) == [
        "component:default/a",
        "component:default/b",
        "component:default/c",
    ]
    write(catalog / "a.yaml", component("a", owner="team-b"))
    (second,) = await load_files(embedded, [catalog])
    assert second.updated == ["component:default/a"]
    assert second.removed == ["component:default/b"]
    assert second.unchanged == 1
    assert await refs(embedded) == ["component:default/a", "component:default/c"]
    a = (await embedded.get_entities(["component:default/a"]))[0]
    assert a is not None and a.owner == "group:default/team-b"


async def test_invalid_document_is_reported_and_keeps_its_previous_version(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    file = write(tmp_path / "c.yaml", component("a") + "---" + component("b"))
    await load_files(embedded, [file])
    broken = component("a") + "---" + component("b").replace("lifecycle:", "lifecyle:")
    write(file, broken + "---" + component("new"))
    (report,) = await load_files(embedded, [file])
    (rejection,) = report.rejected
    assert rejection.location == f"{file}:10"
    assert "spec.lifecycle: is required" in rejection.reason
    assert report.added == ["component:default/new"]
    assert report.removed == [], "b is invalid now, so its last good version stays"
    assert await refs(embedded) == [
        "component:default/a",
        "component:default/b",
        "component:default/new",
    ]


async def test_unparseable_file_keeps_what_it_loaded_before(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    folder = tmp_path / "cat"
    write(folder / "good.yaml", component("good"))
    bad = write(folder / "bad.yaml", component("first") + "---" + component("second"))
    await load_files(embedded, [folder])
    bad.write_text("apiVersion: [unclosed\n", encoding="utf-8")
    (report,) = await load_files(embedded, [folder])
    assert [r.location for r in report.rejected] == [f"{bad}:2"]
    assert "invalid YAML" in report.rejected[0].reason
    assert report.removed == []
    assert len(await refs(embedded)) == 3


async def test_same_ref_from_two_sources_keeps_the_first(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    one = write(tmp_path / "one" / "c.yaml", component("shared"))
    two = write(tmp_path / "two" / "c.yaml", component("shared", owner="team-b"))
    (first,) = await load_files(embedded, [one])
    for _ in range(2):  # the same answer on every run: never swaps silently
        (second,) = await load_files(embedded, [two])
        (conflict,) = second.rejected
        assert conflict.location == f"{two}:1"
        assert f"{one}:1" in conflict.reason and "file:" in conflict.reason
    shared = (await embedded.get_entities(["component:default/shared"]))[0]
    assert shared is not None and shared.owner == "group:default/team-a"
    assert first.added == ["component:default/shared"]


async def test_same_ref_twice_in_one_file_later_wins(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    file = write(tmp_path / "c.yaml", component("x") + "---" + component("x", owner="team-z"))
    (report,) = await load_files(embedded, [file])
    assert report.rejected == [] and report.added == ["component:default/x"]
    x = (await embedded.get_entities(["component:default/x"]))[0]
    assert x is not None and x.owner == "group:default/team-z" and x.location == f"{file}:10"


async def test_location_targets_and_placeholders(embedded: EmbeddedStore, tmp_path: Path) -> None:
    write(
        tmp_path / "all.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata:
          name: root
        spec:
          targets: [./apis/*.yaml, ./missing.yaml]
        """,
    )
    write(tmp_path / "apis" / "spec.json", '{"openapi": "3.0.0"}')
    write(
        tmp_path / "apis" / "a.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata:
          name: a
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition:
            $json: ./spec.json
        """,
    )
    write(
        tmp_path / "apis" / "b.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata:
          name: b
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition:
            $text: ./nope.yaml
        """,
    )
    (report,) = await load_files(embedded, [tmp_path / "all.yaml"])
    assert sorted(report.added) == ["api:default/a", "location:default/root"]
    assert any("missing.yaml not found" in w for w in report.warnings)
    (rejection,) = report.rejected
    assert rejection.location.endswith("b.yaml:1") and "nope.yaml" in rejection.reason
    a = (await embedded.get_entities(["api:default/a"]))[0]
    assert a is not None and a.descriptor["spec"]["definition"] == {"openapi": "3.0.0"}


async def test_missing_path_is_reported(embedded: EmbeddedStore, tmp_path: Path) -> None:
    (report,) = await load_files(embedded, [tmp_path / "nope"])
    assert not report.ok and "no such file" in report.rejected[0].reason


async def test_unchanged_files_are_not_read_again(
    embedded: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "catalog"
    write(catalog / "a.yaml", component("a") + "---" + component("b"))
    api = write(
        catalog / "api.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata:
          name: spec-api
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition:
            $text: ./openapi.txt
        """,
    )
    write(tmp_path / "catalog" / "openapi.txt", "openapi: 3.0.0\n")
    (first,) = await load_files(embedded, [catalog])
    assert len(first.added) == 3 and first.skipped is None

    parsed: list[str] = []
    original = loaders_files.iter_documents
    monkeypatch.setattr(
        loaders_files, "iter_documents", lambda text: parsed.append(text) or original(text)
    )
    writes = embedded.writes
    (again,) = await load_files(embedded, [catalog])
    assert (again.skipped, again.unchanged, parsed, embedded.writes) == (
        "files unchanged",
        3,
        [],
        writes,
    )
    # A file rewritten with the same bytes is still unchanged.
    (catalog / "a.yaml").write_text((catalog / "a.yaml").read_text())
    (same,) = await load_files(embedded, [catalog])
    assert same.skipped == "files unchanged"
    # A placeholder's file is an input too.
    write(catalog / "openapi.txt", "openapi: 3.1.0\n")
    (placeholder,) = await load_files(embedded, [catalog])
    assert placeholder.skipped is None and placeholder.updated == ["api:default/spec-api"]
    # So is the folder listing: a new file is read.
    write(catalog / "c.yaml", component("c"))
    (listing,) = await load_files(embedded, [catalog])
    assert listing.added == ["component:default/c"]
    assert api.exists()


async def test_a_source_with_rejections_is_read_again(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    file = write(tmp_path / "c.yaml", component("a") + "---" + component("bad name"))
    (first,) = await load_files(embedded, [file])
    (second,) = await load_files(embedded, [file])
    assert len(first.rejected) == len(second.rejected) == 1
    assert second.skipped is None


async def test_mapping_keys_that_are_not_strings_are_kept_as_strings(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    # YAML keys a map by number or boolean; Backstage (JavaScript) reads them as strings.
    catalog = tmp_path / "catalog"
    write(
        catalog / "a.yaml", component("a", extra="  ports: {8080: http, 9090: metrics, true: on}")
    )
    (report,) = await load_files(embedded, [catalog])
    assert report.added == ["component:default/a"] and not report.rejected
    a = (await embedded.get_entities(["component:default/a"]))[0]
    assert a is not None
    assert a.descriptor["spec"]["ports"] == {"8080": "http", "9090": "metrics", "true": "on"}
    (again,) = await load_files(embedded, [catalog])
    assert again.unchanged == 1 and not again.updated
