"""The root ``Query`` and ``Mutation``; resolvers stay thin and call the store or analysis."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, Info
from strawberry.types.nodes import SelectedField, Selection
from strawberry.utils.logging import StrawberryLogger

from graph_api import analysis
from graph_api.api.code_types import (
    Document,
    DocumentFilterInput,
    Package,
    PackageFilterInput,
    to_document,
    to_package,
)
from graph_api.api.cost import SCALARS, CostQuery
from graph_api.api.federation import FederationQuery
from graph_api.api.findings import Finding, FindingFilterInput, find_findings
from graph_api.api.errors import BadInput, NotFound, caused_by_client, should_mask
from graph_api.api.limits import DEFAULT_PAGE, LimitedSchema, limit_extensions
from graph_api.api.types import (
    Api,
    Component,
    Connection,
    Ctx,
    Domain,
    Edge,
    Entity,
    EntityFilterInput,
    EntityOrderInput,
    GenericEntity,
    Group,
    Location,
    Node,
    PageInfo,
    Resource,
    System,
    Template,
    UnresolvedEntity,
    User,
    decode_cursor,
    encode_cursor,
    ref_from_global_id,
    to_entity,
)
from graph_api.ingest import LoadReport, SourceDocument, apply_source, delete_entity, validate
from graph_api.model import RefError, RelationType, normalize_ref
from graph_api.settings import Settings
from graph_api.model.packages import ecosystem_of, normalize_purl, parse_range
from graph_api.store import DocumentFilter, EntityFilter, EntityOrder, EntityRecord, PackageFilter

T = TypeVar("T")
API_SOURCE = "api"


def _ref(text: str, default_kind: str | None = None, argument: str = "ref") -> str:
    try:
        return normalize_ref(text, default_kind=default_kind)
    except RefError as exc:
        raise BadInput(f"{argument}: {exc}") from exc


async def _record(info: Ctx, ref: str) -> EntityRecord | None:
    return await info.context.entity_by_ref.load(ref)


async def _required(info: Ctx, text: str, argument: str = "ref") -> EntityRecord:
    ref = _ref(text, "Component", argument)
    record = await _record(info, ref)
    if record is None:
        raise NotFound(f"{argument}: no entity {ref}")
    return record


def _filter(filter: EntityFilterInput | None, kind: str | None) -> EntityFilter:
    given = filter or EntityFilterInput()
    return EntityFilter(
        kinds=[kind] if kind else given.kind,
        types=given.type,
        lifecycles=given.lifecycle,
        namespaces=given.namespace,
        owner=_ref(given.owner, "Group", "filter.owner") if given.owner else None,
        system=_ref(given.system, "System", "filter.system") if given.system else None,
        domain=_ref(given.domain, "Domain", "filter.domain") if given.domain else None,
        tag=given.tag,
        annotation=given.annotation,
        text=given.text,
        units=given.unit,
    )


def _window(info: Ctx, first: int | None, after: str | None) -> tuple[int, int]:
    """``(limit, offset)`` of a Relay page request."""
    limit = DEFAULT_PAGE if first is None else first
    if not 0 <= limit <= info.context.max_page:
        raise BadInput(f"first must be between 0 and {info.context.max_page}")
    if after is None:
        return limit, 0
    position = decode_cursor(after)
    if position is None:
        raise BadInput("after: not a cursor from this API")
    return limit, position + 1


def _connection(nodes: Sequence[T], offset: int, total: int) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(offset + i), node=n) for i, n in enumerate(nodes)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(nodes) < total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


async def _page(
    info: Ctx,
    filter: EntityFilterInput | None,
    order_by: EntityOrderInput | None,
    first: int | None,
    after: str | None,
    kind: str | None = None,
) -> Connection[Any]:
    limit, offset = _window(info, first, after)
    order = order_by or EntityOrderInput()
    records, total = await info.context.store.find_entities(
        _filter(filter, kind),
        EntityOrder(order.field.value),
        order.direction.value == "DESC",
        offset,
        limit,
    )
    for record in records:
        info.context.entity_by_ref.prime(record.ref, record)
    return _connection([to_entity(r) for r in records], offset, total)


async def _typed(info: Ctx, ref: str, kind: str) -> Any:
    record = await _record(info, _ref(ref, kind))
    if record is None or record.stub or record.kind.lower() != kind.lower():
        return None
    return to_entity(record)


# -- dependency exploration types ----------------------------------------------------------
@strawberry.enum(description="UPSTREAM: what it depends on. DOWNSTREAM: what depends on it.")
class DependencyDirection(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


@strawberry.type
class DependencyNode:
    depth: int = strawberry.field(description="Fewest dependency hops from the root.")
    ref: str

    @strawberry.field
    async def entity(self, info: Ctx) -> Entity | None:
        return (await _entities(info, [self.ref]) or [None])[0]


@strawberry.type
class DependencyEdge:
    from_ref: str = strawberry.field(description="The entity that depends ...")
    to_ref: str = strawberry.field(description="... on this one.")


@strawberry.type
class DependencyGraph:
    root: Entity
    nodes: list[DependencyNode]
    edges: list[DependencyEdge]


# Groups keep refs and load entities only when asked: a hub's blast radius can hold tens of
# thousands of dependents, and most queries want the counts.
@strawberry.type
class DepthGroup:
    depth: int
    count: int
    refs: list[str]

    @strawberry.field
    async def entities(self, info: Ctx) -> list[Entity]:
        return await _entities(info, self.refs)


@strawberry.type
class OwnerGroup:
    owner_ref: str | None = strawberry.field(description="Null for dependents without an owner.")
    count: int
    refs: list[str]

    @strawberry.field
    async def owner(self, info: Ctx) -> Entity | None:
        if self.owner_ref is None:
            return None
        record = await _record(info, self.owner_ref)
        return to_entity(record) if record else None

    @strawberry.field
    async def entities(self, info: Ctx) -> list[Entity]:
        return await _entities(info, self.refs)


@strawberry.type
class BlastRadius:
    root: Entity
    total: int = strawberry.field(description="Distinct transitive dependents.")
    dependents: list[DependencyNode]
    by_depth: list[DepthGroup]
    by_owner: list[OwnerGroup]


@strawberry.type
class DependencyPath:
    found: bool
    length: int | None = strawberry.field(description="Number of dependency hops.")
    entities: list[Entity]


@strawberry.type
class DependencyCycle:
    refs: list[str] = strawberry.field(description="In order; the last depends on the first.")
    entities: list[Entity]


@strawberry.type
class UnresolvedRelation:
    from_ref: str
    relation: str
    target_ref: str


@strawberry.type
class KindCount:
    kind: str
    count: int


# Fields of BlastRadius a store can count without listing the dependents, with the
# subfields each may select.
_COUNTED_BLAST_FIELDS: dict[str, frozenset[str] | None] = {
    "__typename": None,
    "root": None,
    "total": None,
    "byDepth": frozenset({"__typename", "depth", "count"}),
    "byOwner": frozenset({"__typename", "ownerRef", "count", "owner"}),
}


def _counts_only(info: Info, countable: dict[str, frozenset[str] | None]) -> set[str] | None:
    """The fields selected on this resolver's result when all of them can be counted
    (None when any needs the listing)."""
    asked: set[str] = set()
    # Every node of this field: a query may select it twice under one response key.
    for field in _fields([s for f in info.selected_fields for s in f.selections]):
        if field.name not in countable:
            return None
        allowed = countable[field.name]
        if allowed is not None and not {f.name for f in _fields(field.selections)} <= allowed:
            return None
        asked.add(field.name)
    return asked


def _fields(selections: Sequence[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection set, fragments spread."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


async def _entities(info: Ctx, refs: Sequence[str]) -> list[Entity]:
    records = await info.context.entity_by_ref.load_many(list(refs))
    return [to_entity(r) for r in records if r is not None]


# -- mutation payloads ----------------------------------------------------------------------
@strawberry.type
class RejectedDescriptor:
    location: str = strawberry.field(description="`descriptors[i]`, or file:line for loaders.")
    reason: str
    ref: str | None


@strawberry.type
class UpsertEntitiesPayload:
    added: list[str]
    updated: list[str]
    unchanged: int
    rejected: list[RejectedDescriptor]
    entities: list[Entity]


@strawberry.type
class DeleteEntityPayload:
    ref: str
    deleted: bool


def _payload_rejections(report: LoadReport) -> list[RejectedDescriptor]:
    return [
        RejectedDescriptor(location=r.location, reason=r.reason, ref=r.ref) for r in report.rejected
    ]


@strawberry.type
class EntityChangeRecord:
    ref: str
    before: str | None = strawberry.field(description="Content hash before; null if created.")
    after: str | None = strawberry.field(description="Content hash after; null if removed.")


@strawberry.type
class AuditEntry:
    id: str
    at: str
    actor: str
    action: str
    source: str
    changes: list[EntityChangeRecord]


@strawberry.type
class Query(CostQuery, FederationQuery):
    @strawberry.field(description="Any entity by its global id.")
    async def node(self, info: Ctx, id: strawberry.ID) -> Node | None:
        ref = ref_from_global_id(str(id))
        if ref is None:
            raise BadInput("id: not an id from this API")
        record = await _record(info, ref)
        return to_entity(record) if record else None

    @strawberry.field(
        description="An entity by ref, `[kind:][namespace/]name`; kind defaults to Component."
    )
    async def entity(self, info: Ctx, ref: str) -> Entity | None:
        record = await _record(info, _ref(ref, "Component"))
        return to_entity(record) if record else None

    @strawberry.field(description="Defined entities, filtered and ordered, as a Relay connection.")
    async def entities(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Entity]:
        return await _page(info, filter, order_by, first, after)

    @strawberry.field
    async def component(self, info: Ctx, ref: str) -> Component | None:
        return await _typed(info, ref, "Component")

    @strawberry.field
    async def components(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Component]:
        return await _page(info, filter, order_by, first, after, "component")

    @strawberry.field
    async def api(self, info: Ctx, ref: str) -> Api | None:
        return await _typed(info, ref, "API")

    @strawberry.field
    async def apis(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Api]:
        return await _page(info, filter, order_by, first, after, "api")

    @strawberry.field
    async def resource(self, info: Ctx, ref: str) -> Resource | None:
        return await _typed(info, ref, "Resource")

    @strawberry.field
    async def resources(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Resource]:
        return await _page(info, filter, order_by, first, after, "resource")

    @strawberry.field(description="Resources nobody owns: tied to no owned component or system.")
    async def unowned_resources(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[Resource]:
        limit, offset = _window(info, first, after)
        records, total = await info.context.store.find_entities(
            EntityFilter(kinds=["resource"], unowned=True), EntityOrder.REF, False, offset, limit
        )
        return _connection([to_entity(r) for r in records], offset, total)

    @strawberry.field
    async def system(self, info: Ctx, ref: str) -> System | None:
        return await _typed(info, ref, "System")

    @strawberry.field
    async def systems(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[System]:
        return await _page(info, filter, order_by, first, after, "system")

    @strawberry.field
    async def domain(self, info: Ctx, ref: str) -> Domain | None:
        return await _typed(info, ref, "Domain")

    @strawberry.field
    async def domains(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Domain]:
        return await _page(info, filter, order_by, first, after, "domain")

    @strawberry.field
    async def group(self, info: Ctx, ref: str) -> Group | None:
        return await _typed(info, ref, "Group")

    @strawberry.field
    async def groups(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Group]:
        return await _page(info, filter, order_by, first, after, "group")

    @strawberry.field
    async def user(self, info: Ctx, ref: str) -> User | None:
        return await _typed(info, ref, "User")

    @strawberry.field
    async def users(
        self,
        info: Ctx,
        filter: EntityFilterInput | None = None,
        order_by: EntityOrderInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        return await _page(info, filter, order_by, first, after, "user")

    @strawberry.field(description="Entities within maxDepth dependency hops, and their edges.")
    async def dependency_graph(
        self,
        info: Ctx,
        ref: str,
        direction: DependencyDirection = DependencyDirection.DOWNSTREAM,
        max_depth: int = 3,
    ) -> DependencyGraph:
        root = await _required(info, ref)
        graph = await _analysis(
            analysis.dependency_graph(
                info.context.store, root, analysis.Flow(direction.value), max_depth
            )
        )
        return DependencyGraph(
            root=to_entity(root),
            nodes=[DependencyNode(depth=n.depth, ref=n.ref) for n in graph.nodes],
            edges=[DependencyEdge(from_ref=a, to_ref=b) for a, b in graph.edges],
        )

    @strawberry.field(description="Every entity that transitively depends on this one.")
    async def blast_radius(self, info: Ctx, ref: str, max_depth: int = 10) -> BlastRadius:
        root = await _required(info, ref)
        asked = _counts_only(info, _COUNTED_BLAST_FIELDS)
        if asked is not None:
            counts = await _analysis(
                analysis.blast_counts(
                    info.context.store,
                    root,
                    max_depth,
                    by_depth="byDepth" in asked,
                    by_owner="byOwner" in asked,
                )
            )
            return BlastRadius(
                root=to_entity(root),
                total=counts.total,
                dependents=[],
                by_depth=[
                    DepthGroup(depth=d, count=n, refs=[]) for d, n in counts.by_depth.items()
                ],
                by_owner=[
                    OwnerGroup(owner_ref=o, count=n, refs=[]) for o, n in counts.by_owner.items()
                ],
            )
        radius = await _analysis(analysis.blast_radius(info.context.store, root, max_depth))
        return BlastRadius(
            root=to_entity(root),
            total=len(radius.dependents),
            dependents=[DependencyNode(depth=r.depth, ref=r.ref) for r in radius.dependents],
            by_depth=[
                DepthGroup(depth=depth, count=len(group), refs=[r.ref for r in group])
                for depth, group in radius.by_depth.items()
            ],
            by_owner=[
                OwnerGroup(
                    owner_ref=o.owner_ref,
                    count=len(o.dependents),
                    refs=[r.ref for r in o.dependents],
                )
                for o in radius.by_owner
            ],
        )

    @strawberry.field(description="A shortest dependsOn path from one entity to another.")
    async def dependency_path(
        self,
        info: Ctx,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        max_depth: int = 10,
        directed: bool = True,
    ) -> DependencyPath:
        start = await _required(info, from_, "from")
        end = await _required(info, to, "to")
        refs = await _analysis(
            analysis.dependency_path(
                info.context.store, start.ref, end.ref, max_depth, directed=directed
            )
        )
        if refs is None:
            return DependencyPath(found=False, length=None, entities=[])
        return DependencyPath(
            found=True, length=len(refs) - 1, entities=await _entities(info, refs)
        )

    @strawberry.field(description="Dependency cycles in the whole catalog or in one system.")
    async def dependency_cycles(
        self, info: Ctx, system: str | None = None
    ) -> list[DependencyCycle]:
        system_ref = _ref(system, "System", "system") if system else None
        cycles = await analysis.dependency_cycles(info.context.store, system_ref)
        return [DependencyCycle(refs=c, entities=await _entities(info, c)) for c in cycles]

    @strawberry.field(description="Relations whose target no source defines.")
    async def unresolved_relations(self, info: Ctx) -> list[UnresolvedRelation]:
        rows = await info.context.store.unresolved_refs()
        return [UnresolvedRelation(from_ref=a, relation=r, target_ref=b) for a, r, b in rows]

    @strawberry.field(description="Every change to the catalog, newest first. Admins only.")
    async def audit_log(
        self,
        info: Ctx,
        actor: str | None = None,
        ref: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        info.context.policy.require_admin(info.context.viewer)
        limit, offset = _window(info, first, after)
        events, total = await info.context.store.audit_events(
            actor=actor, ref=_ref(ref, "Component") if ref else None, offset=offset, limit=limit
        )
        entries = [
            AuditEntry(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                source=e.source,
                changes=[
                    EntityChangeRecord(ref=c.ref, before=c.before, after=c.after) for c in e.changes
                ],
            )
            for e in events
        ]
        return _connection(entries, offset, total)

    @strawberry.field(description="How many entities of each kind the catalog holds.")
    async def catalog_stats(self, info: Ctx) -> list[KindCount]:
        stats = await info.context.store.stats()
        return [KindCount(kind=k, count=n) for k, n in sorted(stats.items())]

    @strawberry.field(
        description="Packages that components use, by name, ecosystem, purl and version range: "
        "which services use package X at versions Y."
    )
    async def packages(
        self,
        info: Ctx,
        filter: PackageFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Package]:
        limit, offset = _window(info, first, after)
        records, total = await info.context.store.find_packages(
            _package_filter(filter), offset, limit
        )
        return _connection([to_package(r) for r in records], offset, total)

    @strawberry.field(description="A package by purl (with @version for one version).")
    async def package(self, info: Ctx, purl: str) -> Package | None:
        record = await info.context.package_by_purl.load(_purl(purl, "purl"))
        return to_package(record) if record is not None else None

    @strawberry.field(
        description="Findings, worst first. An entity, team or system filter needs the right "
        "to see that one's findings; without one, admins and the security roles only."
    )
    async def findings(
        self,
        info: Ctx,
        filter: FindingFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Finding]:
        limit, offset = _window(info, first, after)
        nodes, total = await find_findings(info, filter, offset, limit)
        return _connection(nodes, offset, total)

    @strawberry.field(description="READMEs, TechDocs pages, runbooks and ADRs; text search.")
    async def documents(
        self,
        info: Ctx,
        filter: DocumentFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Document]:
        limit, offset = _window(info, first, after)
        given = filter or DocumentFilterInput()
        where = DocumentFilter(
            text=given.text,
            kinds=[k.value for k in given.kind] if given.kind else None,
            ref=_ref(given.entity, "Component", "filter.entity") if given.entity else None,
        )
        records, total = await info.context.store.find_documents(where, offset, limit)
        return _connection([to_document(r) for r in records], offset, total)


def _purl(text: str, argument: str) -> str:
    try:
        return normalize_purl(text)
    except ValueError as exc:
        raise BadInput(f"{argument}: {exc}") from exc


def _package_filter(filter: PackageFilterInput | None) -> PackageFilter:
    """The store filter, with every argument checked here so errors name the argument."""
    given = filter or PackageFilterInput()
    try:
        ecosystem = ecosystem_of(given.ecosystem) if given.ecosystem else None
        if given.version_range:
            parse_range(given.version_range)
    except ValueError as exc:
        raise BadInput(f"filter: {exc}") from exc
    return PackageFilter(
        name=given.name,
        ecosystem=ecosystem,
        purl=_purl(given.purl, "filter.purl") if given.purl else None,
        version_range=given.version_range,
    )


async def _analysis(work: Any) -> Any:
    try:
        return await work
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create or update entities from Backstage descriptors (validated as the loader "
        "does). Editors may touch only entities their team owns, before and after the change."
    )
    async def upsert_entities(self, info: Ctx, descriptors: list[JSON]) -> UpsertEntitiesPayload:
        context = info.context
        documents = [
            SourceDocument(d, f"descriptors[{i}]", f"descriptors[{i}]")
            for i, d in enumerate(descriptors)
        ]
        entities, rejected = validate(documents)
        existing = await context.store.get_entities([p.entity.ref for p in entities])
        owners: list[str | None] = [p.entity.target(RelationType.OWNED_BY) for p in entities]
        owners.extend(r.owner for r in existing if r is not None and not r.stub)
        await context.policy.require_edit(context.viewer, owners)
        report = await apply_source(
            context.store,
            API_SOURCE,
            entities,
            rejected,
            mode="delta",
            actor=context.viewer.name,
            action="upsertEntities",
        )
        changed = [*report.added, *report.updated]
        return UpsertEntitiesPayload(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=_payload_rejections(report),
            entities=await _entities(info, changed),
        )

    @strawberry.mutation(description="Delete an entity, whichever source defined it.")
    async def delete_entity(self, info: Ctx, ref: str) -> DeleteEntityPayload:
        context = info.context
        canonical = _ref(ref, "Component")
        record = await _record(info, canonical)
        if record is None or record.stub:
            raise NotFound(f"ref: no entity {canonical}")
        await context.policy.require_edit(context.viewer, [record.owner])
        if not await delete_entity(context.store, canonical, actor=context.viewer.name):
            raise NotFound(f"ref: no entity {canonical}")
        return DeleteEntityPayload(ref=canonical, deleted=True)


# Kinds reachable only through the Entity interface must be named to appear in the schema.
ENTITY_TYPES = [
    Component,
    Api,
    Resource,
    System,
    Domain,
    Group,
    User,
    Location,
    Template,
    GenericEntity,
    UnresolvedEntity,
]


class SubgraphSchema(LimitedSchema, strawberry.federation.Schema):
    """The limited schema as an Apollo Federation v2 subgraph: ``@key(fields: "ref")`` on the
    entity types, ``_entities`` resolved in batches, ``_service { sdl }``."""

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        # Strawberry trusts each representation's shape and crashes on anything else; a
        # gateway only ever sends {__typename, ref}, so everything else is the caller's error.
        entity_types = {t.__strawberry_definition__.name for t in ENTITY_TYPES}
        for index, representation in enumerate(representations):
            if (
                not isinstance(representation, dict)
                or representation.get("__typename") not in entity_types
                or not isinstance(representation.get("ref"), str)
                or set(representation) != {"__typename", "ref"}
            ):
                raise BadInput(
                    f"representations[{index}]: expected {{__typename, ref}} naming an entity type"
                )
        resolved: list[FederationAny] = super().entities_resolver(info, representations)
        return resolved

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry logs every error at ERROR with a traceback; a client's bad input, refusal
        # or invalid query is routine, and would bury the server's own failures.
        for error in errors:
            if caused_by_client(error):
                code = error.extensions.get("code", "UNSPECIFIED")  # as the metrics label it
                StrawberryLogger.logger.info("client error %s: %s", code, error.message)
            else:
                StrawberryLogger.error(error, execution_context)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The devgraph GraphQL schema, with the request limits of ``settings``."""
    settings = settings or Settings()
    return SubgraphSchema(
        query=Query,
        mutation=Mutation,
        types=ENTITY_TYPES,
        config=StrawberryConfig(scalar_map=SCALARS),
        federation_version="2.11",
        limits=settings.limits,
        extensions=[
            lambda: MaskErrors(should_mask_error=should_mask),
            # Clients send the same few query texts again and again; parsing and validating
            # them costs more than resolving a small one. Both caches are bounded LRUs.
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            *limit_extensions(settings.limits, introspection=settings.introspection),
        ],
    )
