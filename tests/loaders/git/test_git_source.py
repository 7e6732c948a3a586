"""Loading real git repositories (made here with ``git init`` and ``commit``) into a store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from devgraph.cli import app
from graph_api.store import EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.git import GitLoadOptions, load_git

MakeRepo = Callable[..., Any]


def component(name: str, owner: str | None = "team-a", extra: str = "") -> str:
    owner_line = f"\n  owner: {owner}" if owner else ""
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        f"spec:\n  type: service\n  lifecycle: production{owner_line}\n{extra}"
    )


def options(tmp_path: Path) -> GitLoadOptions:
    return GitLoadOptions(cache=tmp_path / "cache", fetch_remote=False)


async def refs(store: EmbeddedStore, kind: str | None = None) -> list[str]:
    where = EntityFilter(kinds=[kind] if kind else None)
    records, _ = await store.find_entities(where, EntityOrder.REF, False, 0, 10_000)
    return [r.ref for r in records]


async def test_monorepo_loads_then_an_unchanged_rerun_reads_and_writes_nothing(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    mono = git_repo("mono")
    for i in range(300):
        mono.write(f"services/svc-{i:03d}/catalog-info.yaml", component(f"svc-{i:03d}"))
    mono.write("services/svc-000/catalog-info.yml", component("svc-yml"))
    mono.write("services/svc-001/requirements.txt", "requests==2.31.0\n")
    mono.write("notes.yaml", component("not-a-descriptor"))  # outside the descriptor globs
    head = mono.commit("300 services")
    (first,) = await load_git(embedded, [str(mono.path)], options(tmp_path))
    assert first.rejected == [] and len(first.added) == 301
    assert first.source == f"git:{mono.path}"
    svc = (await embedded.get_entities(["component:default/svc-007"]))[0]
    assert (
        svc is not None
        and svc.location == f"file://{mono.path}/blob/main/services/svc-007/catalog-info.yaml:1"
    )
    annotations = svc.descriptor["metadata"]["annotations"]
    assert annotations["backstage.io/source-location"] == (
        f"url:file://{mono.path}/tree/main/services/svc-007/"
    )
    assert annotations["backstage.io/managed-by-location"] == (
        f"url:file://{mono.path}/blob/main/services/svc-007/catalog-info.yaml"
    )
    assert (await embedded.source_states([first.source]))[first.source]["head"] == head

    writes = embedded.writes
    (again,) = await load_git(embedded, [str(mono.path)], options(tmp_path))
    assert again.skipped == "HEAD unchanged" and again.ok
    assert embedded.writes == writes
    # Proof that an unchanged repository is not even read: without its objects any read
    # fails, yet the run still skips it cleanly.
    objects = mono.path / ".git" / "objects"
    saved = tmp_path / "objects-saved"
    shutil.copytree(objects, saved)
    for entry in objects.iterdir():
        if entry.name not in ("info",):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (unread,) = await load_git(embedded, [str(mono.path)], options(tmp_path))
    assert unread.skipped == "HEAD unchanged" and embedded.writes == writes
    shutil.rmtree(objects)
    shutil.copytree(saved, objects)

    # A commit that touches no descriptor: read again, entities unchanged, only activity.
    mono.write("CHANGELOG.md", "# Changes\n")
    mono.commit("changelog")
    (third,) = await load_git(embedded, [str(mono.path)], options(tmp_path))
    assert (third.added, third.updated, third.removed, third.unchanged) == ([], [], [], 301)
    assert third.facts_changed == ["activity"]
    assert embedded.writes == writes + 1


async def test_team_repositories_take_owners_from_codeowners(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    org = git_repo("org")
    org.write(
        "catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Group
        metadata:
          name: payments
          annotations:
            github.com/team-slug: acme/payments-team
        spec:
          type: team
          children: []
        ---
        apiVersion: backstage.io/v1alpha1
        kind: User
        metadata:
          name: jane
        spec:
          memberOf: [payments]
          profile:
            email: Jane@Example.com
        """,
    ).commit()
    pay = git_repo("payments")
    pay.write(".github/CODEOWNERS", "* @acme/payments-team\n/legacy/ jane@example.com\n")
    pay.write("catalog-info.yaml", component("checkout", owner=None))
    pay.write("legacy/catalog-info.yaml", component("old-checkout", owner=None))
    pay.write("explicit/catalog-info.yaml", component("explicit", owner="someone-else"))
    pay.commit()
    search = git_repo("search")
    search.write("CODEOWNERS", "[Backend] @platform\n*\n[Docs]\ndocs/ @writers\n")
    search.write("catalog-info.yaml", component("search", owner=None)).commit()
    reports = await load_git(
        embedded, [str(org.path), str(pay.path), str(search.path)], options(tmp_path)
    )
    assert all(r.ok for r in reports), [r.rejected for r in reports]
    records = await embedded.get_entities(
        [
            "component:default/checkout",
            "component:default/old-checkout",
            "component:default/explicit",
            "component:default/search",
        ]
    )
    owners = {r.name: r.owner for r in records if r is not None}
    assert owners == {
        "checkout": "group:default/payments",  # by the team-slug annotation
        "old-checkout": "user:default/jane",  # by the user's profile e-mail
        "explicit": "group:default/someone-else",  # spec.owner is never overridden
        "search": "user:default/platform",  # GitLab section default owner, by name
    }
    checkout = records[0]
    assert checkout is not None
    assert (
        checkout.descriptor["metadata"]["annotations"]["devgraph.io/owner-source"] == "codeowners"
    )
    explicit = records[2]
    assert explicit is not None
    assert "devgraph.io/owner-source" not in explicit.descriptor["metadata"]["annotations"]
    found = await embedded.code_owners(
        ["component:default/old-checkout", "component:default/explicit"]
    )
    (legacy,) = found["component:default/old-checkout"]
    assert (legacy.owners, legacy.file, legacy.line, legacy.pattern) == (
        ["jane@example.com"],
        ".github/CODEOWNERS",
        2,
        "/legacy/",
    )
    assert [c.owners for c in found["component:default/explicit"]] == [["@acme/payments-team"]]


async def test_component_without_owner_or_codeowners_is_rejected_with_its_place(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = git_repo("ownerless")
    repo.write("svc/catalog-info.yaml", component("lost", owner=None)).commit()
    (report,) = await load_git(embedded, [str(repo.path)], options(tmp_path))
    (rejection,) = report.rejected
    assert rejection.location == f"file://{repo.path}/blob/main/svc/catalog-info.yaml:1"
    assert "spec.owner: is required" in rejection.reason
    assert any("no CODEOWNERS rule owns svc/" in w for w in report.warnings)


async def test_a_descriptor_that_breaks_keeps_its_last_good_version_until_fixed(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = git_repo("breaks")
    repo.write("a/catalog-info.yaml", component("a") + "---\n" + component("b"))
    repo.write("a/package.json", '{"dependencies": {"left-pad": "1.3.0"}}')
    repo.commit()
    await load_git(embedded, [str(repo.path)], options(tmp_path))
    repo.write(
        "a/catalog-info.yaml",
        component("a") + "---\n" + component("b").replace("lifecycle", "lifecyle"),
    )
    repo.commit("typo")
    (broken,) = await load_git(embedded, [str(repo.path)], options(tmp_path))
    (rejection,) = broken.rejected
    assert rejection.location == f"file://{repo.path}/blob/main/a/catalog-info.yaml:10"
    assert "spec.lifecycle: is required" in rejection.reason
    assert broken.removed == [] and await refs(embedded) == [
        "component:default/a",
        "component:default/b",
    ]
    uses = await embedded.package_uses(["component:default/b"])
    assert [u.package.purl for u in uses["component:default/b"]] == ["pkg:npm/left-pad@1.3.0"]
    # Not skipped while broken, so it is reported on every run; and nothing is written.
    writes = embedded.writes
    (still,) = await load_git(embedded, [str(repo.path)], options(tmp_path))
    assert still.skipped is None and len(still.rejected) == 1 and embedded.writes == writes
    repo.write("a/catalog-info.yaml", component("a") + "---\n" + component("b", owner="team-b"))
    repo.commit("fix")
    (fixed,) = await load_git(embedded, [str(repo.path)], options(tmp_path))
    assert fixed.ok and fixed.updated == ["component:default/b"]


async def test_a_removed_component_leaves_with_its_packages_and_documents(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = git_repo("shrinks")
    repo.write("keep/catalog-info.yaml", component("keep"))
    repo.write("gone/catalog-info.yaml", component("gone"))
    repo.write("gone/go.mod", "module x\n\nrequire github.com/only/gone v1.0.0\n")
    repo.write("gone/README.md", "# Gone service\n")
    repo.commit()
    await load_git(embedded, [str(repo.path)], options(tmp_path))
    assert await embedded.get_packages(["pkg:golang/github.com/only/gone@v1.0.0"]) != [None]
    repo.remove("gone/catalog-info.yaml").commit("retire gone")
    (report,) = await load_git(embedded, [str(repo.path)], options(tmp_path))
    assert report.removed == ["component:default/gone"]
    assert await refs(embedded) == ["component:default/keep"]
    assert await embedded.get_packages(["pkg:golang/github.com/only/gone@v1.0.0"]) == [None]
    assert (await embedded.documents_of(["component:default/gone"]))["component:default/gone"] == []


async def test_bare_repository_and_file_url_clone_then_fetch(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    work = git_repo("work")
    work.write("catalog-info.yaml", component("from-bare")).commit()
    bare = git_repo("shared.git", bare=True)
    work.git("push", "-q", str(bare.path), "main")
    url = f"file://{bare.path}"
    reports = await load_git(embedded, [str(bare.path), url], options(tmp_path))
    by_path, by_url = reports
    assert by_path.source == f"git:{bare.path}" and by_path.added == ["component:default/from-bare"]
    # The same entity from a second source: kept with the first, the conflict reported.
    assert by_url.source == f"git:file://{bare.path.with_suffix('')}"
    assert "already defined by source" in by_url.rejected[0].reason
    clones = list((tmp_path / "cache").iterdir())
    assert len(clones) == 1 and clones[0].name.endswith(".git")
    work.write("more/catalog-info.yaml", component("pushed-later")).commit()
    work.git("push", "-q", str(bare.path), "main")
    (fetched,) = await load_git(embedded, [url], options(tmp_path))
    assert fetched.added == ["component:default/pushed-later"], fetched.summary()
    assert list((tmp_path / "cache").iterdir()) == clones


async def test_location_url_target_into_another_repository_of_the_run(
    embedded: EmbeddedStore, git_repo: MakeRepo, tmp_path: Path
) -> None:
    apis = git_repo("apis")
    apis.write("specs/orders.yaml", component("orders-from-apis-repo")).commit()
    root = git_repo("root")
    root.write(
        "catalog-info.yaml",
        f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata:
          name: everything
        spec:
          targets:
            - ./local.yaml
            - file://{apis.path}/blob/main/specs/orders.yaml
        """,
    )
    root.write("local.yaml", component("local"))
    root.commit()
    reports = await load_git(embedded, [str(root.path), str(apis.path)], options(tmp_path))
    root_report = reports[0]
    assert sorted(root_report.added) == [
        "component:default/local",
        "component:default/orders-from-apis-repo",
        "location:default/everything",
    ]
    orders = (await embedded.get_entities(["component:default/orders-from-apis-repo"]))[0]
    assert orders is not None and orders.source == f"git:{root.path}"
    assert orders.location == f"file://{apis.path}/blob/main/specs/orders.yaml:1"
    state = (await embedded.source_states([root_report.source]))[root_report.source]
    assert state["dependencies"] == [[f"git:{apis.path}", "main", apis.git("rev-parse", "HEAD")]]
    # The target's repository moved on: the root is read again though its own HEAD did not.
    apis.write("specs/orders.yaml", component("orders-from-apis-repo", owner="team-z")).commit()
    again = await load_git(embedded, [str(root.path), str(apis.path)], options(tmp_path))
    assert again[0].updated == ["component:default/orders-from-apis-repo"]
    # Alone (as a webhook sync would run it), the target cannot be read: kept, not removed.
    root.write("local.yaml", component("local", owner="team-y")).commit()
    (alone,) = await load_git(embedded, [str(root.path)], options(tmp_path))
    assert alone.removed == [] and alone.updated == ["component:default/local"]
    assert any("not part of this run" in w for w in alone.warnings)


def test_cli_reports_unreachable_repositories_and_continues(
    git_repo: MakeRepo, tmp_path: Path
) -> None:
    good = git_repo("good")
    good.write("catalog-info.yaml", component("good")).commit()
    listing = tmp_path / "repos.txt"
    listing.write_text(
        f"# our repositories\n{good.path}\n\nfile://{tmp_path}/no-such-repo.git  # gone\n",
        encoding="utf-8",
    )
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app,
        [
            "load",
            "git",
            str(listing),
            str(tmp_path / "missing"),
            "--store",
            str(store),
            "--cache",
            str(tmp_path / "cache"),
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    good_report, url_report, path_report = json.loads(result.stdout)
    assert good_report["added"] == 1 and good_report["rejected"] == []
    assert "repository unreachable" in url_report["rejected"][0]["reason"]
    assert url_report["rejected"][0]["location"] == f"file://{tmp_path}/no-such-repo.git"
    assert "no such repository" in path_report["rejected"][0]["reason"]
