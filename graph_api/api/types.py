"""GraphQL types of the catalog: the ``Entity`` interface and one type per kind.

Scalar fields are plain attributes filled from the stored record (cheap to resolve); every
relation goes through the request's DataLoaders, so a list of N entities costs one store call
per relation, not N.
"""

from __future__ import annotations

import base64
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph_api.api.code_types import (
    CodeOwner,
    Document,
    DocumentKind,
    PackageUsage,
    RepositoryActivity,
    to_activity,
    to_code_owners,
    to_document,
    to_usage,
)
from graph_api.api.context import RequestContext
from graph_api.api.cost import Costed
from graph_api.api.federation import Provenance, to_provenance
from graph_api.api.findings import Finding, FindingStatus, WithFindings, entity_findings
from graph_api.model import RELATION_NAMES, RelationType
from graph_api.store import Direction, EntityRecord

T = TypeVar("T")
Ctx = Info[RequestContext, None]


def global_id(ref: str) -> str:
    return base64.urlsafe_b64encode(f"Entity:{ref}".encode()).decode()


def ref_from_global_id(node_id: str) -> str | None:
    try:
        decoded = base64.urlsafe_b64decode(node_id.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, ref = decoded.partition(":")
    return ref if kind == "Entity" and ref else None


@strawberry.type
class Link:
    url: str
    title: str | None = None
    icon: str | None = None
    type: str | None = None


@strawberry.type(description="A relation as Backstage names it, from this entity's side.")
class EntityRelation:
    type: str = strawberry.field(description="ownedBy, ownerOf, dependsOn, dependencyOf, ...")
    target_ref: str
    target: Annotated[Entity, strawberry.lazy("graph_api.api.types")]


@strawberry.interface(description="An object with a global id, for `node(id:)`.")
class Node:
    id: strawberry.ID


async def _related(
    info: Ctx, ref: str, relation: RelationType, direction: Direction
) -> list[Entity]:
    refs = await info.context.related(relation, direction).load(ref)
    records = await info.context.entity_by_ref.load_many(refs)
    return [to_entity(r) for r in records if r is not None]


async def _one(info: Ctx, ref: str, relation: RelationType, direction: Direction, kind: str) -> Any:
    for entity in await _related(info, ref, relation, direction):
        if entity.ref.startswith(kind):
            return entity
    return None


async def _of_kind(
    info: Ctx, ref: str, relation: RelationType, direction: Direction, kind: str
) -> list[Any]:
    return [e for e in await _related(info, ref, relation, direction) if e.ref.startswith(kind)]


@strawberry.interface(description="Any catalog entity. `resolved` is false for a ref no source defines.")
class Entity(Node):
    ref: str = strawberry.field(description="Canonical `kind:namespace/name`, lower case.")
    kind: str
    namespace: str
    name: str
    title: str | None
    description: str | None
    tags: list[str]
    source: str | None = strawberry.field(description="Source key that defines this entity.")
    location: str | None = strawberry.field(description="Where it was defined: file:line, ...")
    updated_at: str | None
    resolved: bool
    unit: str | None = strawberry.field(
        description="Business unit of a federated entity; null for this instance's own."
    )
    # The stored record; descriptor-derived fields below read it only when a query asks.
    record: strawberry.Private[EntityRecord]

    @classmethod
    async def resolve_reference(cls, info: Ctx, ref: str) -> Entity | None:
        """An Apollo Federation reference by ``ref``, through the request's entity loader, so
        one ``_entities`` call costs one store call however many references it holds."""
        record = await info.context.entity_by_ref.load(ref)
        entity = to_entity(record) if record is not None else None
        return entity if isinstance(entity, cls) else None

    @strawberry.field(description="Where a federated entity comes from; null for own entities.")
    def provenance(self) -> Provenance | None:
        return to_provenance(self.record)

    @strawberry.field
    def labels(self) -> JSON:
        return self.record.descriptor.get("metadata", {}).get("labels") or {}

    @strawberry.field
    def annotations(self) -> JSON:
        return self.record.descriptor.get("metadata", {}).get("annotations") or {}

    @strawberry.field
    def links(self) -> list[Link]:
        return [
            Link(
                url=str(link.get("url")),
                title=link.get("title"),
                icon=link.get("icon"),
                type=link.get("type"),
            )
            for link in self.record.descriptor.get("metadata", {}).get("links") or []
            if isinstance(link, dict)
        ]

    @strawberry.field
    def spec(self) -> JSON:
        return self.record.descriptor.get("spec") or {}

    @strawberry.field(description="The descriptor as loaded.")
    def descriptor(self) -> JSON:
        return self.record.descriptor

    @strawberry.field(description="Every relation of this entity, both directions.")
    async def relations(self, info: Ctx) -> list[EntityRelation]:
        result: list[EntityRelation] = []
        for relation, (forward, inverse) in RELATION_NAMES.items():
            for direction, label in ((Direction.OUT, forward), (Direction.IN, inverse)):
                for target in await _related(info, self.ref, relation, direction):
                    result.append(EntityRelation(type=label, target_ref=target.ref, target=target))
        return result


def _base_fields(record: EntityRecord) -> dict[str, Any]:
    return {
        "id": strawberry.ID(global_id(record.ref)),
        "ref": record.ref,
        "kind": record.kind,
        "namespace": record.namespace,
        "name": record.name,
        "title": record.title,
        "description": record.description,
        "tags": record.tags,
        "source": record.source,
        "location": record.location,
        "updated_at": record.updated_at,
        "resolved": not record.stub,
        "unit": record.unit,
        "record": record,
    }


@strawberry.type
class _Owned:
    """Fields of kinds that have an owner."""

    ref: str

    @strawberry.field(description="The owning group or user (ownedBy).")
    async def owner(self, info: Ctx) -> Entity | None:
        found = await _related(info, self.ref, RelationType.OWNED_BY, Direction.OUT)
        return found[0] if found else None


@strawberry.type
class _Dependencies:
    ref: str

    @strawberry.field(description="Direct dependencies (dependsOn).")
    async def depends_on(self, info: Ctx) -> list[Entity]:
        return await _related(info, self.ref, RelationType.DEPENDS_ON, Direction.OUT)

    @strawberry.field(description="Entities that depend directly on this one (dependencyOf).")
    async def dependents(self, info: Ctx) -> list[Entity]:
        return await _related(info, self.ref, RelationType.DEPENDS_ON, Direction.IN)


@strawberry.type
class _InSystem:
    ref: str

    @strawberry.field
    async def system(self, info: Ctx) -> System | None:
        return await _one(info, self.ref, RelationType.PART_OF, Direction.OUT, "system:")


@strawberry.federation.type(keys=["ref"])
class Component(_Owned, _Dependencies, _InSystem, Costed, WithFindings, Entity):
    type: str | None
    lifecycle: str | None

    @strawberry.field
    async def subcomponent_of(self, info: Ctx) -> Component | None:
        return await _one(info, self.ref, RelationType.PART_OF, Direction.OUT, "component:")

    @strawberry.field
    async def subcomponents(self, info: Ctx) -> list[Component]:
        return await _of_kind(info, self.ref, RelationType.PART_OF, Direction.IN, "component:")

    @strawberry.field
    async def provides_apis(self, info: Ctx) -> list[Api]:
        return await _of_kind(info, self.ref, RelationType.PROVIDES_API, Direction.OUT, "api:")

    @strawberry.field
    async def consumes_apis(self, info: Ctx) -> list[Api]:
        return await _of_kind(info, self.ref, RelationType.CONSUMES_API, Direction.OUT, "api:")

    @strawberry.field(description="Who CODEOWNERS says owns the folder of its descriptor.")
    async def code_owners(self, info: Ctx) -> list[CodeOwner]:
        entries = await info.context.code_owners_by_ref.load(self.ref)
        # The source that defines the component is the one whose CODEOWNERS counts.
        mine = [e for e in entries if e.source == self.source] or entries[:1]
        return [owner for entry in mine for owner in to_code_owners(entry)]

    @strawberry.field(description="Packages the manifests beside (or above) its descriptor use.")
    async def packages(self, info: Ctx) -> list[PackageUsage]:
        return [to_usage(use) for use in await info.context.packages_by_ref.load(self.ref)]

    @strawberry.field(description="READMEs, TechDocs pages, runbooks and ADRs about it.")
    async def documents(
        self, info: Ctx, kind: list[DocumentKind] | None = None
    ) -> list[Document]:
        wanted = {k.value for k in kind} if kind else None
        found = await info.context.documents_by_ref.load(self.ref)
        return [to_document(d) for d in found if wanted is None or d.kind in wanted]

    @strawberry.field(description="Activity of the git repository that defines it, if one does.")
    async def activity(self, info: Ctx) -> RepositoryActivity | None:
        if self.source is None:
            return None
        found = await info.context.activity_by_source.load(self.source)
        return to_activity(found) if found is not None else None

    @strawberry.field(
        description="Its findings, worst first (every status unless `status` is given). "
        "Visible to the owning team, the teams above it, admins and the security roles."
    )
    async def findings(
        self, info: Ctx, status: list[FindingStatus] | None = None
    ) -> list[Finding] | None:
        return await entity_findings(info, self.ref, status)


@strawberry.federation.type(name="API", keys=["ref"])
class Api(_Owned, _InSystem, Entity):
    type: str | None
    lifecycle: str | None

    @strawberry.field(description="The API definition text, when it was available at load.")
    def definition(self) -> str | None:
        value = (self.record.descriptor.get("spec") or {}).get("definition")
        return value if isinstance(value, str) else None

    @strawberry.field(description="Components that provide this API (apiProvidedBy).")
    async def providers(self, info: Ctx) -> list[Component]:
        return await _of_kind(info, self.ref, RelationType.PROVIDES_API, Direction.IN, "component:")

    @strawberry.field(description="Components that consume this API (apiConsumedBy).")
    async def consumers(self, info: Ctx) -> list[Component]:
        return await _of_kind(info, self.ref, RelationType.CONSUMES_API, Direction.IN, "component:")


@strawberry.federation.type(keys=["ref"])
class Resource(_Owned, _Dependencies, _InSystem, Costed, Entity):
    type: str | None


@strawberry.federation.type(keys=["ref"])
class System(_Owned, Costed, WithFindings, Entity):
    type: str | None

    @strawberry.field
    async def domain(self, info: Ctx) -> Domain | None:
        return await _one(info, self.ref, RelationType.PART_OF, Direction.OUT, "domain:")

    @strawberry.field(description="Components, APIs and resources in this system (hasPart).")
    async def parts(self, info: Ctx) -> list[Entity]:
        return await _related(info, self.ref, RelationType.PART_OF, Direction.IN)

    @strawberry.field
    async def components(self, info: Ctx) -> list[Component]:
        return await _of_kind(info, self.ref, RelationType.PART_OF, Direction.IN, "component:")

    @strawberry.field
    async def apis(self, info: Ctx) -> list[Api]:
        return await _of_kind(info, self.ref, RelationType.PART_OF, Direction.IN, "api:")

    @strawberry.field
    async def resources(self, info: Ctx) -> list[Resource]:
        return await _of_kind(info, self.ref, RelationType.PART_OF, Direction.IN, "resource:")


@strawberry.federation.type(keys=["ref"])
class Domain(_Owned, Costed, WithFindings, Entity):
    type: str | None

    @strawberry.field
    async def subdomain_of(self, info: Ctx) -> Domain | None:
        return await _one(info, self.ref, RelationType.PART_OF, Direction.OUT, "domain:")

    @strawberry.field(description="Systems and subdomains in this domain (hasPart).")
    async def parts(self, info: Ctx) -> list[Entity]:
        return await _related(info, self.ref, RelationType.PART_OF, Direction.IN)

    @strawberry.field
    async def systems(self, info: Ctx) -> list[System]:
        return await _of_kind(info, self.ref, RelationType.PART_OF, Direction.IN, "system:")


@strawberry.type
class _OwnerOf:
    ref: str

    @strawberry.field(description="Entities this group or user owns directly (ownerOf).")
    async def owns(self, info: Ctx) -> list[Entity]:
        return await _related(info, self.ref, RelationType.OWNED_BY, Direction.IN)


@strawberry.federation.type(keys=["ref"])
class Group(_OwnerOf, Costed, WithFindings, Entity):
    type: str | None
    profile: JSON | None

    @strawberry.field
    async def parent(self, info: Ctx) -> Group | None:
        return await _one(info, self.ref, RelationType.CHILD_OF, Direction.OUT, "group:")

    @strawberry.field
    async def children(self, info: Ctx) -> list[Group]:
        return await _of_kind(info, self.ref, RelationType.CHILD_OF, Direction.IN, "group:")

    @strawberry.field
    async def members(self, info: Ctx) -> list[User]:
        return await _of_kind(info, self.ref, RelationType.MEMBER_OF, Direction.IN, "user:")


@strawberry.federation.type(keys=["ref"])
class User(_OwnerOf, Entity):
    profile: JSON | None

    @strawberry.field
    async def member_of(self, info: Ctx) -> list[Group]:
        return await _of_kind(info, self.ref, RelationType.MEMBER_OF, Direction.OUT, "group:")


@strawberry.federation.type(keys=["ref"])
class Location(Entity):
    type: str | None
    targets: list[str]


@strawberry.federation.type(keys=["ref"])
class Template(_Owned, Entity):
    type: str | None


@strawberry.federation.type(
    keys=["ref"], description="An entity of a kind devgraph has no dedicated type for."
)
class GenericEntity(Entity):
    type: str | None


@strawberry.type(description="A ref that relations point at but no source defines (yet).")
class UnresolvedEntity(Entity):
    @strawberry.field(description="Entities whose relations point here.")
    async def referenced_by(self, info: Ctx) -> list[Entity]:
        result: dict[str, Entity] = {}
        for relation in RelationType:
            for entity in await _related(info, self.ref, relation, Direction.BOTH):
                result.setdefault(entity.ref, entity)
        return list(result.values())


def to_entity(record: EntityRecord) -> Entity:
    """The GraphQL object for a stored record, typed by its kind."""
    fields = _base_fields(record)
    if record.stub:
        return UnresolvedEntity(**fields)
    kind = record.kind.lower()
    if kind == "component":
        return Component(**fields, type=record.type, lifecycle=record.lifecycle)
    if kind == "api":
        return Api(**fields, type=record.type, lifecycle=record.lifecycle)
    if kind == "resource":
        return Resource(**fields, type=record.type)
    if kind == "system":
        return System(**fields, type=record.type)
    if kind == "domain":
        return Domain(**fields, type=record.type)
    spec = (record.descriptor.get("spec") or {}) if kind in ("group", "user", "location") else {}
    if kind == "group":
        return Group(**fields, type=record.type, profile=spec.get("profile"))
    if kind == "user":
        return User(**fields, profile=spec.get("profile"))
    if kind == "location":
        targets = [t for t in [spec.get("target"), *(spec.get("targets") or [])] if t]
        return Location(**fields, type=record.type, targets=[str(t) for t in targets])
    if kind == "template":
        return Template(**fields, type=record.type)
    return GenericEntity(**fields, type=record.type)


# -- connections ------------------------------------------------------------------------------
@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        value = int(number)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if prefix == "offset" and value >= 0 else None


# -- inputs -----------------------------------------------------------------------------------
@strawberry.input(description="All given criteria must hold; list criteria match any value.")
class EntityFilterInput:
    kind: list[str] | None = None
    type: list[str] | None = None
    lifecycle: list[str] | None = None
    namespace: list[str] | None = None
    owner: str | None = strawberry.field(default=None, description="Owner ref; kind defaults to group.")
    system: str | None = None
    domain: str | None = None
    tag: str | None = None
    annotation: str | None = strawberry.field(default=None, description="`key` or `key=value`.")
    text: str | None = strawberry.field(default=None, description="Substring of name, title, description or tags.")
    unit: list[str] | None = strawberry.field(
        default=None, description="Business units of federated entities."
    )


@strawberry.enum
class EntityOrderField(Enum):
    REF = "REF"
    NAME = "NAME"
    KIND = "KIND"
    UPDATED_AT = "UPDATED_AT"


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class EntityOrderInput:
    field: EntityOrderField = EntityOrderField.REF
    direction: OrderDirection = OrderDirection.ASC
