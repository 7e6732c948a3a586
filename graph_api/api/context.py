"""Per-request context: the store, the caller, and DataLoaders that batch store calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from graph_api.model import RelationType
from graph_api.security.policy import Policy, Viewer
from graph_api.store import Direction, EntityRecord, GraphStore


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
    entity_by_ref: EntityByRefLoader = field(init=False)
    _related: dict[tuple[RelationType, Direction], RelatedByRefLoader] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.entity_by_ref = EntityByRefLoader(self.store)

    def related(self, relation: RelationType, direction: Direction) -> RelatedByRefLoader:
        key = (relation, direction)
        loader = self._related.get(key)
        if loader is None:
            loader = self._related[key] = RelatedByRefLoader(self.store, relation, direction)
        return loader
