"""CODEOWNERS, dependency manifests and documents as the forges and ecosystems write them."""

from __future__ import annotations

import pytest

from graph_api.codeowners import parse_handle
from graph_api.model.packages import in_range, parse_range, purl
from loaders.git.codeowners import CodeOwners
from loaders.git.docs import kind_of, read_document
from loaders.git.manifests import ManifestError, parse_manifest
from loaders.git.repository import normalise_url, web_url

GITHUB = """
# GitHub's own example, trimmed
*       @global-owner1 @global-owner2
*.js    @js-owner
docs/*  docs@example.com
apps/ @octocat
/apps/github
/build/logs/ @doctocat
\\#notes @hash-owner
"""


@pytest.mark.parametrize(
    ("folder", "owners"),
    [
        ("", ("@global-owner1", "@global-owner2")),
        ("docs", ("docs@example.com",)),  # files directly in docs/
        ("docs/deep", ("@global-owner1", "@global-owner2")),  # docs/* is not recursive
        ("x/apps/y", ("@octocat",)),  # apps/ anywhere, recursively
        ("apps/github", None),  # the last match has no owners: nobody owns it
        ("build/logs/2024", ("@doctocat",)),
        ("#notes", ("@hash-owner",)),
    ],
)
def test_github_codeowners_last_match_wins(folder: str, owners: tuple[str, ...] | None) -> None:
    found = CodeOwners.parse(".github/CODEOWNERS", GITHUB).for_folder(folder)
    assert (found.owners if found else None) == owners


def test_gitlab_sections_defaults_and_exclusions() -> None:
    text = (
        "* @default\n[Docs][2] @docs-team\ndocs/\n!docs/generated/\n^[Models] @models\napp/models\n"
    )
    rules = CodeOwners.parse(".gitlab/CODEOWNERS", text)
    assert rules.for_folder("docs").owners == ("@default", "@docs-team")
    assert rules.for_folder("docs/generated").owners == ("@default",)
    # GitLab reads ``app/models`` as ``**/app/models``: nested copies match.
    assert rules.for_folder("x/app/models").owners == ("@default", "@models")


def test_handles() -> None:
    assert parse_handle("@acme/Team") is not None and parse_handle("@acme/Team").slug == "acme/team"
    assert parse_handle("@jane").kind == "user"  # type: ignore[union-attr]
    assert parse_handle("Jane@Example.com").name == "jane@example.com"  # type: ignore[union-attr]
    assert parse_handle("@@maintainer") is None


def read_none(path: str) -> None:
    return None


def test_manifests_per_ecosystem() -> None:
    lock = '{"lockfileVersion": 3, "packages": {"node_modules/react": {"version": "18.2.0"}}}'
    npm = parse_manifest(
        "web/package.json",
        '{"dependencies": {"react": "^18.0.0"}, "devDependencies": {"@types/node": "^20"}}',
        {"package-lock.json": lock}.get,
    )
    assert [(p.name, p.version, p.requirement, p.scope) for p in npm] == [
        ("@types/node", None, "^20", "dev"),
        ("react", "18.2.0", "^18.0.0", "runtime"),
    ]
    python = parse_manifest(
        "pyproject.toml",
        '[project]\ndependencies = ["Django_REST.framework>=3.14", "attrs==23.1.0"]\n'
        '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "2.3.2"\n',
        read_none,
    )
    assert [(p.name, p.version) for p in python] == [
        ("attrs", "23.1.0"),
        ("django-rest-framework", None),
        ("flask", "2.3.2"),
    ]
    go = parse_manifest(
        "go.mod", "module x\nrequire (\n\tgolang.org/x/net v0.17.0 // indirect\n)\n", read_none
    )
    assert [(p.name, p.version, p.scope) for p in go] == [
        ("golang.org/x/net", "v0.17.0", "indirect")
    ]
    cargo = parse_manifest(
        "Cargo.toml",
        '[dependencies]\nserde = { version = "1" }\n',
        {"Cargo.lock": '[[package]]\nname = "serde"\nversion = "1.0.190"\n'}.get,
    )
    assert [(p.name, p.version, p.requirement) for p in cargo] == [("serde", "1.0.190", "1")]
    pom = parse_manifest(
        "pom.xml",
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><properties><v>2.15.2</v></properties>'
        "<dependencies><dependency><groupId>com.fasterxml.jackson.core</groupId>"
        "<artifactId>jackson-databind</artifactId><version>${v}</version></dependency>"
        "<dependency><groupId>junit</groupId><artifactId>junit</artifactId>"
        "<version>[4.0,5.0)</version><scope>test</scope></dependency></dependencies></project>",
        read_none,
    )
    assert [(p.name, p.version, p.scope) for p in pom] == [
        ("com.fasterxml.jackson.core:jackson-databind", "2.15.2", "compile"),
        ("junit:junit", None, "test"),
    ]
    requirements = parse_manifest(
        "requirements-dev.txt",
        "-r base.txt\nPyYAML>=6 --hash=sha256:abc \\\n  --hash=sha256:def\n-e .\n",
        {"base.txt": "requests==2.31.0  # pinned\n"}.get,
    )
    assert [(p.name, p.version, p.scope) for p in requirements] == [
        ("pyyaml", None, "dev"),
        ("requests", "2.31.0", "dev"),
    ]
    with pytest.raises(ManifestError):
        parse_manifest("package.json", "{not json", read_none)


def test_purls_and_version_ranges() -> None:
    assert purl("npm", "@angular/core", "17.0.1") == "pkg:npm/%40angular/core@17.0.1"
    assert purl("maven", "org.apache:commons", "1.0") == "pkg:maven/org.apache/commons@1.0"
    assert purl("golang", "github.com/gorilla/mux", "v1.8.0") == (
        "pkg:golang/github.com/gorilla/mux@v1.8.0"
    )
    assert in_range("v1.8.0", parse_range(">=1.7,<2")) and not in_range(None, parse_range(">=0"))
    with pytest.raises(ValueError, match="versionRange"):
        parse_range("^1.2")


def test_documents_and_madr_front_matter() -> None:
    assert kind_of("svc/docs/adr/0001-use-postgres.md", set()) == "ADR"
    assert kind_of("runbooks/restart.md", set()) == "RUNBOOK"
    assert kind_of("ops/db-runbook.md", set()) == "RUNBOOK"
    assert kind_of("svc/README.md", set()) == "README"
    assert kind_of("site/pages/intro.md", {"site/pages"}) == "DOCS"  # mkdocs docs_dir
    assert kind_of("src/main.py", set()) is None
    adr = read_document(
        "docs/decisions/0002-x.md",
        "---\nstatus: accepted\ndate: 2024-01-02\ndeciders: alice, bob\n---\n# Use X\n\nBody\n",
        "ADR",
    )
    assert adr.title == "Use X"
    assert adr.meta == {
        "status": "accepted",
        "date": "2024-01-02",
        "decision_makers": ["alice", "bob"],
    }
    madr2 = read_document("adr/0003-y.md", "# Y\n\n* Status: proposed\n* Deciders: carol\n", "ADR")
    assert madr2.meta == {"status": "proposed", "decision_makers": ["carol"]}


def test_repository_urls_normalise() -> None:
    assert normalise_url("https://user:token@GitHub.com/Acme/Shop.git/") == "github.com/Acme/Shop"
    assert normalise_url("ssh://git@github.com:22/acme/shop.git") == "github.com:22/acme/shop"
    assert web_url("git@gitlab.com:group/sub/project.git") == "https://gitlab.com/group/sub/project"
    assert normalise_url("file:///srv/repos/x.git") == "file:///srv/repos/x"
