"""The store contract for source facts (packages, documents, code owners, activity, state):
every store passes it (embedded always, Neo4j when NEO4J_URI is set)."""

from __future__ import annotations

from typing import Any

import pytest

from graph_api.ingest import apply_source
from graph_api.model import parse_entity
from graph_api.store import (
    Activity,
    ChangeSet,
    CodeOwnership,
    DocumentFilter,
    DocumentRecord,
    GraphStore,
    PackageFilter,
    PackageRecord,
    PackageUse,
    PlacedEntity,
    SourceFacts,
    StoreError,
)


def entity(kind: str, name: str, **spec: Any) -> PlacedEntity:
    metadata: dict[str, Any] = {"name": name}
    if "annotations" in spec:
        metadata["annotations"] = spec.pop("annotations")
    doc = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
    return PlacedEntity(parse_entity(doc), "repo/catalog-info.yaml:1")


def svc(name: str) -> PlacedEntity:
    return entity("Component", name, type="service", lifecycle="production", owner="team-a")


def use(ref: str, name: str, version: str | None, ecosystem: str = "pypi") -> PackageUse:
    purl = f"pkg:{ecosystem}/{name}" + (f"@{version}" if version else "")
    package = PackageRecord(purl, ecosystem, name, version)
    return PackageUse(
        f"component:default/{ref}",
        package,
        f"=={version}" if version else ">=1",
        "runtime",
        "https://git.example/r/blob/main/requirements.txt",
    )


def doc(
    path: str, text: str, *refs: str, kind: str = "README", source: str = "s1"
) -> DocumentRecord:
    return DocumentRecord(
        id=f"{source}#{path}",
        source=source,
        kind=kind,
        path=path,
        title=path.upper(),
        url=f"https://git.example/r/blob/main/{path}",
        text=text,
        meta={"status": "accepted"},
        refs=[f"component:default/{r}" for r in refs],
    )


async def test_facts_written_with_entities_and_read_back(store: GraphStore) -> None:
    facts = SourceFacts(
        packages=[
            use("a", "requests", "2.31.0"),
            use("b", "requests", "2.31.0"),
            use("b", "flask", None),
        ],
        documents=[
            doc("README.md", "Payments service handles Refunds", "a", "b"),
            doc("docs/adr/0001-x.md", "We chose Postgres", "a", kind="ADR"),
        ],
        code_owners=[
            CodeOwnership(
                "component:default/a", ["@acme/pay", "jane@x.io"], ".github/CODEOWNERS", 3, "/a/"
            )
        ],
        activity=Activity(
            "s1",
            "https://git.example/r",
            "main",
            "abc123",
            "2024-05-01T00:00:00+00:00",
            [(1714521600, "k1"), (1714521000, "k2")],
        ),
    )
    await store.apply(
        ChangeSet("s1", upserts=[svc("a"), svc("b")], facts=facts, state={"head": "abc123"})
    )
    uses = await store.package_uses(["component:default/a", "component:default/b"])
    assert [u.package.purl for u in uses["component:default/b"]] == [
        "pkg:pypi/flask",
        "pkg:pypi/requests@2.31.0",
    ]
    assert uses["component:default/a"][0].source == "s1"
    users = await store.package_users(["pkg:pypi/requests@2.31.0", "pkg:pypi/none"])
    assert [u.ref for u in users["pkg:pypi/requests@2.31.0"]] == [
        "component:default/a",
        "component:default/b",
    ]
    assert users["pkg:pypi/none"] == []
    flask, missing = await store.get_packages(["pkg:pypi/flask", "pkg:pypi/nope"])
    assert flask == PackageRecord("pkg:pypi/flask", "pypi", "flask", None) and missing is None
    docs = await store.documents_of(["component:default/a"])
    assert [d.path for d in docs["component:default/a"]] == ["README.md", "docs/adr/0001-x.md"]
    assert docs["component:default/a"][0].refs == ["component:default/a", "component:default/b"]
    assert docs["component:default/a"][1].meta == {"status": "accepted"}
    (owners,) = (await store.code_owners(["component:default/a"]))["component:default/a"]
    assert (owners.owners, owners.line, owners.source) == (["@acme/pay", "jane@x.io"], 3, "s1")
    activity = (await store.activities(["s1", "s2"]))["s1"]
    assert activity.head == "abc123" and activity.commits == [
        (1714521600, "k1"),
        (1714521000, "k2"),
    ]
    assert await store.source_states(["s1", "s2"]) == {"s1": {"head": "abc123"}}


async def test_find_packages_by_name_ecosystem_purl_and_version_range(store: GraphStore) -> None:
    facts = SourceFacts(
        packages=[
            use("a", "requests", "2.31.0"),
            use("b", "requests", "2.25.1"),
            use("c", "requests", None),
            use("a", "react", "18.2.0", ecosystem="npm"),
        ]
    )
    await store.apply(ChangeSet("s1", upserts=[svc("a"), svc("b"), svc("c")], facts=facts))

    async def purls(
        where: PackageFilter, offset: int = 0, limit: int = 10
    ) -> tuple[list[str], int]:
        found, total = await store.find_packages(where, offset, limit)
        return [p.purl for p in found], total

    everything = await purls(PackageFilter())
    assert everything[1] == 4 and everything[0][0] == "pkg:npm/react@18.2.0"
    assert await purls(PackageFilter(name="Requests", ecosystem="PyPI")) == (
        ["pkg:pypi/requests", "pkg:pypi/requests@2.25.1", "pkg:pypi/requests@2.31.0"],
        3,
    )
    assert await purls(PackageFilter(purl="pkg:pypi/requests"), 1, 1) == (
        ["pkg:pypi/requests@2.25.1"],
        3,
    )
    assert await purls(PackageFilter(name="requests", version_range=">=2.30,<3")) == (
        ["pkg:pypi/requests@2.31.0"],
        1,
    )


async def test_documents_by_words_kind_and_entity(store: GraphStore) -> None:
    facts = SourceFacts(
        documents=[
            doc("README.md", "Payments service handles Refunds", "a"),
            doc("runbooks/refunds.md", "How to retry refunds", "b", kind="RUNBOOK"),
            doc("adr/0001.md", "We chose Postgres over MySQL", kind="ADR"),
        ]
    )
    await store.apply(ChangeSet("s1", upserts=[svc("a"), svc("b")], facts=facts))

    async def paths(where: DocumentFilter) -> list[str]:
        found, total = await store.find_documents(where, 0, 10)
        assert total == len(found)
        return [d.path for d in found]

    assert await paths(DocumentFilter(text="REFUNDS")) == ["README.md", "runbooks/refunds.md"]
    assert await paths(DocumentFilter(text="refunds payments")) == ["README.md"]
    assert await paths(DocumentFilter(kinds=["runbook"])) == ["runbooks/refunds.md"]
    assert await paths(DocumentFilter(ref="component:default/b")) == ["runbooks/refunds.md"]
    assert await paths(DocumentFilter(text="postgres", kinds=["ADR"])) == ["adr/0001.md"]


async def test_facts_are_replaced_wholesale_and_leave_with_their_entity(store: GraphStore) -> None:
    first = SourceFacts(
        packages=[use("a", "only-a", "1.0"), use("b", "shared", "1.0")],
        documents=[doc("a/README.md", "A", "a")],
    )
    await store.apply(ChangeSet("s1", upserts=[svc("a"), svc("b")], facts=first))
    # Another source uses the shared package too: it must survive s1 dropping it.
    other = SourceFacts(packages=[use("c", "shared", "1.0")])
    await store.apply(ChangeSet("s2", upserts=[svc("c")], facts=other))
    await store.apply(ChangeSet("s1", facts=SourceFacts(packages=[use("a", "new", "2.0")])))
    assert await store.get_packages(["pkg:pypi/only-a@1.0", "pkg:pypi/shared@1.0"]) == [
        None,
        PackageRecord("pkg:pypi/shared@1.0", "pypi", "shared", "1.0"),
    ]
    assert (await store.documents_of(["component:default/a"]))["component:default/a"] != []
    # Deleting an entity takes its package uses and document links; documents stay.
    await store.apply(ChangeSet("s1", deletes=["component:default/a"]))
    assert await store.get_packages(["pkg:pypi/new@2.0"]) == [None]
    assert await store.get_entities(["component:default/a"]) == [None]
    found, total = await store.find_documents(DocumentFilter(), 0, 10)
    assert total == 1 and found[0].refs == []


async def test_a_failed_change_records_no_state(store: GraphStore) -> None:
    await store.apply(ChangeSet("s1", upserts=[svc("keep")], state={"head": "one"}))
    batch = [svc(f"n{i}") for i in range(3)] + [svc("n0")]
    with pytest.raises(StoreError):
        await store.apply(
            ChangeSet(
                "s1",
                upserts=batch,
                state={"head": "two"},
                facts=SourceFacts(packages=[use("keep", "x", "1")]),
            )
        )
    assert await store.source_states(["s1"]) == {"s1": {"head": "one"}}
    assert await store.package_uses(["component:default/keep"]) == {"component:default/keep": []}


async def test_owner_candidates_by_name_team_slug_and_email(store: GraphStore) -> None:
    group = entity(
        "Group",
        "payments",
        type="team",
        children=[],
        annotations={"github.com/team-slug": "acme/pay-team"},
    )
    user = entity("User", "jane", memberOf=[], profile={"email": "Jane@Example.com"})
    await store.apply(ChangeSet("s1", upserts=[group, user, svc("jane-not-a-user")]))
    by_slug = await store.owner_candidates([], ["github.com/team-slug=acme/pay-team"], [])
    assert [r.ref for r in by_slug] == ["group:default/payments"]
    by_email = await store.owner_candidates([], [], ["jane@example.com"])
    assert [r.ref for r in by_email] == ["user:default/jane"]
    by_name = await store.owner_candidates(["payments", "jane"], [], [])
    assert sorted(r.ref for r in by_name) == ["group:default/payments", "user:default/jane"]
    assert await store.owner_candidates([], [], []) == []


async def test_unchanged_facts_write_nothing(store: GraphStore) -> None:
    facts = SourceFacts(packages=[use("a", "requests", "2.31.0")], activity=None)
    report = await apply_source(store, "s1", [svc("a")], facts=facts, state={"head": "h1"})
    assert report.facts_changed == ["packages"]
    writes = store.writes  # type: ignore[attr-defined]
    again = await apply_source(store, "s1", [svc("a")], facts=facts, state={"head": "h1"})
    assert again.facts_changed == [] and store.writes == writes  # type: ignore[attr-defined]
    state = (await store.source_states(["s1"]))["s1"]
    assert state["head"] == "h1" and state["rejected"] == 0 and set(state["facts"]) == {"packages"}
