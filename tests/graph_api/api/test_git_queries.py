"""GraphQL over what git repositories say: packages, documents, code owners and activity.

Repositories are made with real ``git``, loaded with the git loader into each store, then
queried in-process (``conftest.gql``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import execute, gql

from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore
from loaders.git import GitLoadOptions, load_git

SERVICE = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
"""
TEAMS = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  annotations:
    github.com/team-slug: acme/payments-team
spec:
  type: team
  children: []
"""


async def load_shop(store: GraphStore, git_repo: Callable[..., Any], tmp_path: Path) -> Any:
    """A team repository, and a shop repository of two services (owners from CODEOWNERS)."""
    teams = git_repo("teams")
    teams.write("catalog-info.yaml", TEAMS).commit()
    shop = git_repo("shop")
    shop.write(".github/CODEOWNERS", "* @acme/payments-team\n/refunds/ @jane\n")
    shop.write("checkout/catalog-info.yaml", SERVICE.format(name="checkout"))
    shop.write("checkout/requirements.txt", "requests==2.31.0\nflask>=2\n")
    shop.write("checkout/README.md", "# Checkout\n\nTakes card payments and refunds.\n")
    shop.write(
        "checkout/docs/adr/0001-use-stripe.md",
        "---\nstatus: accepted\ndate: 2024-03-01\ndecision-makers: [jane, omar]\n---\n"
        "# Use Stripe\n\nWe take payments with Stripe.\n",
    )
    shop.write("refunds/catalog-info.yaml", SERVICE.format(name="refunds"))
    shop.write("refunds/requirements.txt", "requests==2.25.1\n")
    shop.write("refunds/runbooks/stuck-refunds.md", "# Stuck refunds\n\nRetry the queue.\n")
    shop.commit("shop", author="omar@example.com")
    shop.commit("more", author="jane@example.com")
    options = GitLoadOptions(cache=tmp_path / "cache", fetch_remote=False)
    reports = await load_git(store, [str(teams.path), str(shop.path)], options)
    assert all(r.ok for r in reports), [r.summary() for r in reports]
    return shop


@pytest.fixture
async def shop(store: GraphStore, git_repo: Callable[..., Any], tmp_path: Path) -> Any:
    return await load_shop(store, git_repo, tmp_path)


async def test_component_code_owners_packages_documents_activity(
    store: GraphStore, shop: Any
) -> None:
    data = await gql(
        store,
        """{
          component(ref: "checkout") {
            owner { ref }
            codeOwners { handle kind file line pattern owner { ref } }
            packages { requirement scope manifest package { purl name version ecosystem } }
            documents { kind title path status date decisionMakers url }
            runbooks: documents(kind: [RUNBOOK]) { title }
            activity {
              repository branch headCommit commitsLast90Days authorsLast90Days lastCommitAt
            }
          }
          refunds: component(ref: "refunds") {
            owner { ref }
            codeOwners { handle kind owner { ref } }
            documents { kind title }
          }
        }""",
    )
    checkout = data["component"]
    assert checkout["owner"] == {"ref": "group:default/payments"}
    assert checkout["codeOwners"] == [
        {
            "handle": "@acme/payments-team",
            "kind": "TEAM",
            "file": ".github/CODEOWNERS",
            "line": 1,
            "pattern": "*",
            "owner": {"ref": "group:default/payments"},
        }
    ]
    assert [(p["package"]["purl"], p["requirement"]) for p in checkout["packages"]] == [
        ("pkg:pypi/flask", ">=2"),
        ("pkg:pypi/requests@2.31.0", "==2.31.0"),
    ]
    assert checkout["packages"][0]["manifest"] == (
        f"file://{shop.path}/blob/main/checkout/requirements.txt"
    )
    kinds = [(d["kind"], d["title"]) for d in checkout["documents"]]
    assert kinds == [("README", "Checkout"), ("ADR", "Use Stripe")]
    adr = checkout["documents"][1]
    assert (adr["status"], adr["date"], adr["decisionMakers"]) == (
        "accepted",
        "2024-03-01",
        ["jane", "omar"],
    )
    assert checkout["runbooks"] == []
    activity = checkout["activity"]
    assert activity["repository"] == f"file://{shop.path}" and activity["branch"] == "main"
    assert activity["headCommit"] == shop.git("rev-parse", "HEAD")
    assert (activity["commitsLast90Days"], activity["authorsLast90Days"]) == (2, 2)
    refunds = data["refunds"]
    # @jane names no defined user: the handle is kept, the owner is null.
    assert refunds["codeOwners"] == [{"handle": "@jane", "kind": "USER", "owner": None}]
    assert refunds["owner"] == {"ref": "user:default/jane"}
    assert refunds["documents"] == [{"kind": "RUNBOOK", "title": "Stuck refunds"}]


async def test_packages_which_services_use_a_package_at_which_versions(
    store: GraphStore, shop: Any
) -> None:
    data = await gql(
        store,
        """query($range: String) {
          old: packages(filter: {name: "Requests", ecosystem: "PyPI", versionRange: $range}) {
            totalCount
            nodes { purl version usedBy { ref ... on Component { owner { ref } } } }
          }
          all: packages(filter: {ecosystem: "pypi"}, first: 2) {
            totalCount pageInfo { hasNextPage endCursor } nodes { purl }
          }
        }""",
        range="<2.30",
    )
    assert data["old"] == {
        "totalCount": 1,
        "nodes": [
            {
                "purl": "pkg:pypi/requests@2.25.1",
                "version": "2.25.1",
                "usedBy": [
                    {"ref": "component:default/refunds", "owner": {"ref": "user:default/jane"}}
                ],
            }
        ],
    }
    page = data["all"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    rest = await gql(
        store,
        'query($after: String) { packages(filter: {ecosystem: "pypi"}, after: $after) '
        "{ nodes { purl } } }",
        after=page["pageInfo"]["endCursor"],
    )
    purls = [n["purl"] for n in page["nodes"] + rest["packages"]["nodes"]]
    assert purls == ["pkg:pypi/flask", "pkg:pypi/requests@2.25.1", "pkg:pypi/requests@2.31.0"]


async def test_package_by_purl(store: GraphStore, shop: Any) -> None:
    data = await gql(
        store,
        """{
          package(purl: "pkg:PyPI/Requests@2.31.0") {
            purl name version usages { scope requirement component { ref } package { purl } }
          }
          missing: package(purl: "pkg:npm/left-pad@1.0.0") { purl }
        }""",
    )
    assert data["package"] == {
        "purl": "pkg:pypi/requests@2.31.0",
        "name": "requests",
        "version": "2.31.0",
        "usages": [
            {
                "scope": "runtime",
                "requirement": "==2.31.0",
                "component": {"ref": "component:default/checkout"},
                "package": {"purl": "pkg:pypi/requests@2.31.0"},
            }
        ],
    }
    assert data["missing"] is None


async def test_documents_text_search_by_kind_and_entity(store: GraphStore, shop: Any) -> None:
    data = await gql(
        store,
        """{
          refunds: documents(filter: {text: "Refunds"}) {
            totalCount nodes { kind title entities { ref } }
          }
          decisions: documents(filter: {kind: [ADR], text: "stripe payments"}) {
            nodes { title url meta }
          }
          about: documents(filter: {entity: "refunds"}) { nodes { path } }
        }""",
    )
    assert data["refunds"]["totalCount"] == 2
    assert [(d["kind"], d["title"]) for d in data["refunds"]["nodes"]] == [
        ("README", "Checkout"),
        ("RUNBOOK", "Stuck refunds"),
    ]
    assert data["refunds"]["nodes"][1]["entities"] == [{"ref": "component:default/refunds"}]
    (decision,) = data["decisions"]["nodes"]
    assert decision["title"] == "Use Stripe" and decision["meta"]["status"] == "accepted"
    assert decision["url"].endswith("/blob/main/checkout/docs/adr/0001-use-stripe.md")
    assert data["about"]["nodes"] == [{"path": "refunds/runbooks/stuck-refunds.md"}]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ('{ packages(filter: {ecosystem: "cobol"}) { totalCount } }', "unknown ecosystem"),
        ('{ packages(filter: {versionRange: "^1.2"}) { totalCount } }', "versionRange"),
        ('{ package(purl: "requests") { purl } }', "purl"),
        ("{ documents(first: 1000) { totalCount } }", "first must be between"),
    ],
)
async def test_bad_arguments_are_clean_errors(
    store: GraphStore, shop: Any, query: str, fragment: str
) -> None:
    result = await execute(store, query)
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions is not None and error.extensions["code"] == "BAD_USER_INPUT"
    assert fragment in error.message


async def test_relations_are_batched_whatever_the_list_size(
    git_repo: Callable[..., Any], tmp_path: Path
) -> None:
    query = """{ components(first: 100) { nodes { ref
      codeOwners { owner { ref } } packages { package { purl } } documents { title }
      activity { commitsLast90Days } } } }"""
    calls: list[int] = []
    for size in (3, 30):
        repo = git_repo(f"mono-{size}")
        repo.write("CODEOWNERS", "* @acme/payments-team\n")
        for i in range(size):
            repo.write(f"s{i}/catalog-info.yaml", SERVICE.format(name=f"s{i}"))
            repo.write(f"s{i}/requirements.txt", f"pkg-{i}==1.0\n")
            repo.write(f"s{i}/README.md", f"# S{i}\n")
        repo.commit()
        store = EmbeddedStore(tmp_path / f"store-{size}")
        await store.open()
        try:
            options = GitLoadOptions(cache=tmp_path / "cache", fetch_remote=False)
            (report,) = await load_git(store, [str(repo.path)], options)
            assert len(report.added) == size
            before = store.calls
            data: dict[str, Any] = await gql(store, query)
            assert len(data["components"]["nodes"]) == size
            calls.append(store.calls - before)
        finally:
            await store.close()
    assert calls[0] == calls[1], calls
