"""Per-request context: the store, the caller, and DataLoaders that batch store calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graph_api.codeowners import resolve_handles
from graph_api.model import RelationType
from graph_api.model.cost import CostDimension, CostMetric
from graph_api.security.policy import Policy, Viewer
from graph_api.store import (
    Activity,
    CodeOwnership,
    CostAmount,
    CostFilter,
    Direction,
    DocumentRecord,
    EntityRecord,
    FindingRecord,
    GraphStore,
    PackageDeclaration,
    PackageDependency,
    PackageRecord,
    PackageUse,
    VulnerabilityRecord,
)
from graph_api.store._cost import sum_amounts

K = TypeVar("K")
V = TypeVar("V")


class EntityByRefLoader(DataLoader[str, EntityRecord | None]):
    """Entities by canonical ref: one store call per batch."""

    def __init__(self, store: GraphStore) -> None:
        async def load(refs: list[str]) -> Sequence[EntityRecord | None]:
            return await store.get_entities(refs)

        super().__init__(load_fn=load)


class RelatedByRefLoader(DataLoader[str, list[str]]):
    """Refs one relation edge away, for many refs in one store call."""

    def __init__(self, store: GraphStore, relation: RelationType, direction: Direction) -> None:
        async def load(refs: list[str]) -> Sequence[list[str]]:
            found = await store.related(refs, relation, direction)
            return [found.get(ref, []) for ref in refs]

        super().__init__(load_fn=load)


class _MappingLoader(DataLoader[K, V]):
    """Values from one store call returning ``{key: value}``; ``missing`` for absent keys."""

    def __init__(
        self, fetch: Callable[[list[K]], Awaitable[Mapping[K, Any]]], missing: Any
    ) -> None:
        async def load(keys: list[K]) -> Sequence[V]:
            found = await fetch(keys)
            return [found.get(key, missing) for key in keys]

        super().__init__(load_fn=load)


class PackagesByRefLoader(_MappingLoader[str, list[PackageUse]]):
    """The packages each entity uses."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.package_uses, [])


class UsesByPurlLoader(_MappingLoader[str, list[PackageUse]]):
    """The uses of each package."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.package_users, [])


class PackageByPurlLoader(DataLoader[str, PackageRecord | None]):
    def __init__(self, store: GraphStore) -> None:
        super().__init__(load_fn=store.get_packages)


class DocumentsByRefLoader(_MappingLoader[str, list[DocumentRecord]]):
    """The documents about each entity."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.documents_of, [])


class CodeOwnersByRefLoader(_MappingLoader[str, list[CodeOwnership]]):
    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.code_owners, [])


class ActivityBySourceLoader(_MappingLoader[str, Activity | None]):
    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.activities, None)


class OwnerByHandleLoader(_MappingLoader[str, str | None]):
    """The entity ref each code-owner handle (``@org/team``, ``@user``, email) names."""

    def __init__(self, store: GraphStore) -> None:
        async def resolve(handles: list[str]) -> Mapping[str, str | None]:
            return await resolve_handles(store, handles)

        super().__init__(resolve, None)


@dataclass(frozen=True, slots=True)
class CostKey:
    """One cost question: ``metric`` over a window for a set of entities (or of resources),
    grouped by ``by`` and currency."""

    start: date
    end: date
    metric: CostMetric
    by: tuple[CostDimension, ...]
    entities: frozenset[str] | None = None
    resources: frozenset[str] | None = None


class CostAmountsLoader(DataLoader[CostKey, list[CostAmount]]):
    """Cost of many entity sets: one store call per window, metric, grouping and set kind."""

    def __init__(self, store: GraphStore) -> None:
        async def load(keys: list[CostKey]) -> Sequence[list[CostAmount]]:
            groups: dict[tuple[object, ...], list[CostKey]] = {}
            for key in keys:
                kind = key.resources is not None
                groups.setdefault((kind, key.start, key.end, key.metric, key.by), []).append(key)
            answers: dict[CostKey, list[CostAmount]] = {}
            for (by_resource, start, end, metric, by), members in groups.items():
                sets = [(k.resources if by_resource else k.entities) or frozenset() for k in members]
                refs = sorted(frozenset().union(*sets))
                where = (
                    CostFilter(start, end, resources=refs)
                    if by_resource
                    else CostFilter(start, end, entities=refs)
                )
                first = CostDimension.RESOURCE if by_resource else CostDimension.ENTITY
                found = await store.cost_amounts(where, [first, *by], metric)
                for key, wanted in zip(members, sets, strict=True):
                    answers[key] = sum_amounts(a for a in found if a.key[0] in wanted)
            return [answers[key] for key in keys]

        super().__init__(load_fn=load)
        self._store = store
        self._latest: asyncio.Task[date | None] | None = None
        self._costed: asyncio.Task[list[str]] | None = None

    async def latest_day(self) -> date | None:
        """The last day any cost covers, asked of the store once per request."""
        if self._latest is None:
            self._latest = asyncio.ensure_future(self._last_day())
        return await asyncio.shield(self._latest)

    async def _last_day(self) -> date | None:
        span = await self._store.cost_span()
        return span[1] if span else None

    async def costed(self) -> list[str]:
        """Every entity any cost is attributed to, asked of the store once per request."""
        if self._costed is None:
            self._costed = asyncio.ensure_future(self._costed_entities())
        return await asyncio.shield(self._costed)

    async def _costed_entities(self) -> list[str]:
        span = await self._store.cost_span()
        if span is None:
            return []
        first, last = span
        # Whole months, so the (small) monthly rollup answers.
        until = date(last.year + last.month // 12, last.month % 12 + 1, 1) - timedelta(days=1)
        where = CostFilter(first.replace(day=1), until, allocated=True)
        found = await self._store.cost_amounts(where, [CostDimension.ENTITY], CostMetric.EFFECTIVE)
        return sorted({a.key[0] for a in found})


class FindingsByRefLoader(_MappingLoader[str, list[FindingRecord]]):
    """Each entity's findings, worst first."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.findings_of, [])


class OpenCountsByRefLoader(_MappingLoader[str, dict[str, int]]):
    """Each entity's open findings per severity (empty for an entity without any)."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.open_finding_counts, {})


class DeclarationsByPurlLoader(_MappingLoader[str, list[PackageDeclaration]]):
    """What each SBOM declares of each package (licenses, hashes)."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.package_declarations, [])


class VulnerabilitiesByPurlLoader(_MappingLoader[str, list[VulnerabilityRecord]]):
    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.package_vulnerabilities, [])


class DependenciesByPurlLoader(_MappingLoader[str, list[PackageDependency]]):
    def __init__(self, store: GraphStore) -> None:
        super().__init__(store.package_dependencies, [])


@dataclass
class RequestContext:
    """Built once per request; loaders cache for the request only.

    Example:
        >>> RequestContext(store, Viewer.local_admin("me"), Policy(store))  # doctest: +SKIP
    """

    store: GraphStore
    viewer: Viewer
    policy: Policy
    max_page: int = 100
    changes_overlap_s: int = 300
    _related: dict[tuple[RelationType, Direction], RelatedByRefLoader] = field(
        init=False, default_factory=dict
    )

    # Loaders are made on first use: a request needs two or three of them, and making all
    # of them took a third of a small query's time in the server.
    @cached_property
    def entity_by_ref(self) -> EntityByRefLoader:
        return EntityByRefLoader(self.store)

    @cached_property
    def packages_by_ref(self) -> PackagesByRefLoader:
        return PackagesByRefLoader(self.store)

    @cached_property
    def uses_by_purl(self) -> UsesByPurlLoader:
        return UsesByPurlLoader(self.store)

    @cached_property
    def package_by_purl(self) -> PackageByPurlLoader:
        return PackageByPurlLoader(self.store)

    @cached_property
    def documents_by_ref(self) -> DocumentsByRefLoader:
        return DocumentsByRefLoader(self.store)

    @cached_property
    def code_owners_by_ref(self) -> CodeOwnersByRefLoader:
        return CodeOwnersByRefLoader(self.store)

    @cached_property
    def activity_by_source(self) -> ActivityBySourceLoader:
        return ActivityBySourceLoader(self.store)

    @cached_property
    def owner_by_handle(self) -> OwnerByHandleLoader:
        return OwnerByHandleLoader(self.store)

    @cached_property
    def cost_amounts(self) -> CostAmountsLoader:
        return CostAmountsLoader(self.store)

    @cached_property
    def findings_by_ref(self) -> FindingsByRefLoader:
        return FindingsByRefLoader(self.store)

    @cached_property
    def open_counts_by_ref(self) -> OpenCountsByRefLoader:
        return OpenCountsByRefLoader(self.store)

    @cached_property
    def declarations_by_purl(self) -> DeclarationsByPurlLoader:
        return DeclarationsByPurlLoader(self.store)

    @cached_property
    def vulnerabilities_by_purl(self) -> VulnerabilitiesByPurlLoader:
        return VulnerabilitiesByPurlLoader(self.store)

    @cached_property
    def dependencies_by_purl(self) -> DependenciesByPurlLoader:
        return DependenciesByPurlLoader(self.store)

    def related(self, relation: RelationType, direction: Direction) -> RelatedByRefLoader:
        key = (relation, direction)
        loader = self._related.get(key)
        if loader is None:
            loader = self._related[key] = RelatedByRefLoader(self.store, relation, direction)
        return loader
