"""GraphQL types of what code says about components: packages, documents, code owners and
repository activity (loaded from git repositories).

Scalars are plain attributes; every relation goes through the request's DataLoaders.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph_api.api.context import RequestContext
from graph_api.api.findings import (
    PackageLicense,
    PackageVulnerability,
    to_licenses,
    to_vulnerabilities,
)
from graph_api.codeowners import parse_handle
from graph_api.store import Activity, CodeOwnership, DocumentRecord, PackageRecord, PackageUse

if TYPE_CHECKING:
    from graph_api.api.types import Component, Entity

Ctx = Info[RequestContext, None]
WINDOW_DAYS = 90
LazyComponent = Annotated["Component", strawberry.lazy("graph_api.api.types")]
LazyEntity = Annotated["Entity", strawberry.lazy("graph_api.api.types")]


async def _entities(info: Ctx, refs: list[str]) -> list[LazyEntity]:
    from graph_api.api.types import to_entity  # noqa: PLC0415 - types imports this module

    records = await info.context.entity_by_ref.load_many(refs)
    return [to_entity(r) for r in records if r is not None]


@strawberry.type(
    description="A package at one version (any version when `version` is null), by purl. "
    "PyPI names are PEP 503 normalised."
)
class Package:
    purl: str = strawberry.field(description="Package URL, e.g. pkg:pypi/requests@2.31.0.")
    ecosystem: str = strawberry.field(description="purl type: pypi, npm, golang, cargo, maven.")
    name: str
    version: str | None = strawberry.field(description="Pinned or locked version, if certain.")

    @strawberry.field(description="Each manifest line that uses this package.")
    async def usages(self, info: Ctx) -> list[PackageUsage]:
        return [to_usage(u) for u in await info.context.uses_by_purl.load(self.purl)]

    @strawberry.field(description="Components that use this package (each once).")
    async def used_by(self, info: Ctx) -> list[LazyComponent]:
        uses = await info.context.uses_by_purl.load(self.purl)
        return await _entities(info, list(dict.fromkeys(u.ref for u in uses)))

    @strawberry.field(description="Licenses as each SBOM that lists it declares them.")
    async def licenses(self, info: Ctx) -> list[PackageLicense]:
        return to_licenses(await info.context.declarations_by_purl.load(self.purl))

    @strawberry.field(description="Content hashes SBOMs give, `ALG:hex` (e.g. SHA-256:...).")
    async def hashes(self, info: Ctx) -> list[str]:
        declarations = await info.context.declarations_by_purl.load(self.purl)
        return sorted({h for d in declarations for h in d.hashes})

    @strawberry.field(
        description="Known vulnerabilities of this version (from SBOMs and OSV advisories), "
        "worst first."
    )
    async def vulnerabilities(self, info: Ctx) -> list[PackageVulnerability]:
        return to_vulnerabilities(await info.context.vulnerabilities_by_purl.load(self.purl))

    @strawberry.field(description="Packages SBOMs say this one depends on.")
    async def dependencies(self, info: Ctx) -> list[Package]:
        links = await info.context.dependencies_by_purl.load(self.purl)
        purls = list(dict.fromkeys(link.depends_on for link in links))
        records = await info.context.package_by_purl.load_many(purls)
        return [to_package(r) for r in records if r is not None]


def to_package(record: PackageRecord) -> Package:
    return Package(
        purl=record.purl, ecosystem=record.ecosystem, name=record.name, version=record.version
    )


@strawberry.type(description="One component's use of one package, as a manifest states it.")
class PackageUsage:
    component_ref: str
    requirement: str | None = strawberry.field(description="Version requirement as written.")
    scope: str = strawberry.field(description="runtime, dev, optional:<extra>, test, ...")
    manifest: str = strawberry.field(description="URL of the manifest file.")
    source: str
    package: Package

    @strawberry.field
    async def component(self, info: Ctx) -> LazyEntity | None:
        found = await _entities(info, [self.component_ref])
        return found[0] if found else None


def to_usage(use: PackageUse) -> PackageUsage:
    return PackageUsage(
        component_ref=use.ref,
        requirement=use.requirement,
        scope=use.scope,
        manifest=use.manifest,
        source=use.source,
        package=to_package(use.package),
    )


@strawberry.enum
class DocumentKind(Enum):
    README = "README"
    DOCS = "DOCS"
    RUNBOOK = "RUNBOOK"
    ADR = "ADR"


@strawberry.type(description="A README, TechDocs page, runbook or decision record (MADR).")
class Document:
    id: strawberry.ID
    kind: DocumentKind
    title: str
    path: str = strawberry.field(description="Path in its repository.")
    url: str
    source: str
    text: str
    meta: JSON = strawberry.field(description="Front matter that was understood.")
    status: str | None = strawberry.field(description="ADR status (proposed, accepted, ...).")
    date: str | None
    decision_makers: list[str]
    entity_refs: list[str]

    @strawberry.field(description="The entities this document is about.")
    async def entities(self, info: Ctx) -> list[LazyEntity]:
        return await _entities(info, self.entity_refs)


def to_document(record: DocumentRecord) -> Document:
    meta = record.meta
    return Document(
        id=strawberry.ID(record.id),
        kind=DocumentKind(record.kind),
        title=record.title,
        path=record.path,
        url=record.url,
        source=record.source,
        text=record.text,
        meta=meta,
        status=meta.get("status"),
        date=meta.get("date"),
        decision_makers=list(meta.get("decision_makers") or []),
        entity_refs=list(record.refs),
    )


@strawberry.enum
class CodeOwnerKind(Enum):
    TEAM = "TEAM"
    USER = "USER"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


@strawberry.type(description="One owner a CODEOWNERS rule names, and the entity it maps to.")
class CodeOwner:
    handle: str = strawberry.field(description="As written: @org/team, @user or an email.")
    kind: CodeOwnerKind
    file: str
    line: int
    pattern: str

    @strawberry.field(description="The Group or User it names; null when none is defined.")
    async def owner(self, info: Ctx) -> LazyEntity | None:
        ref = await info.context.owner_by_handle.load(self.handle)
        found = await _entities(info, [ref]) if ref else []
        return found[0] if found else None


def to_code_owners(entry: CodeOwnership) -> list[CodeOwner]:
    owners = []
    for handle in entry.owners:
        parsed = parse_handle(handle)
        kind = CodeOwnerKind(parsed.kind.upper()) if parsed else CodeOwnerKind.OTHER
        owners.append(
            CodeOwner(
                handle=handle, kind=kind, file=entry.file, line=entry.line, pattern=entry.pattern
            )
        )
    return owners


@strawberry.type(description="Recent history of the repository a component is defined in.")
class RepositoryActivity:
    repository: str = strawberry.field(description="The repository's web URL.")
    branch: str
    head_commit: str
    last_commit_at: str | None
    commits_last_90_days: int = strawberry.field(name="commitsLast90Days")
    authors_last_90_days: int = strawberry.field(
        name="authorsLast90Days", description="Distinct commit authors (by e-mail)."
    )


def to_activity(activity: Activity, now: float | None = None) -> RepositoryActivity:
    """Counts over the 90 days before ``now``, from the commits recorded at load."""
    since = (time.time() if now is None else now) - WINDOW_DAYS * 86_400
    recent = [(stamp, author) for stamp, author in activity.commits if stamp >= since]
    return RepositoryActivity(
        repository=activity.repository,
        branch=activity.branch,
        head_commit=activity.head,
        last_commit_at=activity.last_commit_at,
        commits_last_90_days=len(recent),
        authors_last_90_days=len({author for _, author in recent}),
    )


# -- inputs -----------------------------------------------------------------------------------
@strawberry.input(description="All given criteria must hold.")
class PackageFilterInput:
    name: str | None = strawberry.field(default=None, description="Any case; PEP 503 for PyPI.")
    ecosystem: str | None = strawberry.field(
        default=None, description="pypi, npm, golang (go), cargo (crates.io), maven."
    )
    purl: str | None = strawberry.field(
        default=None, description="A purl; without @version it matches every version."
    )
    version_range: str | None = strawberry.field(
        default=None,
        description="Pinned versions in this range, PEP 440 syntax for every ecosystem: "
        "'>=2.0,<2.32'.",
    )


@strawberry.input(description="All given criteria must hold.")
class DocumentFilterInput:
    text: str | None = strawberry.field(
        default=None, description="Every word occurs in the title or text (any case)."
    )
    kind: list[DocumentKind] | None = None
    entity: str | None = strawberry.field(
        default=None, description="Documents about this entity; kind defaults to Component."
    )
