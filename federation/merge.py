"""Merging peers into one view: same-as groups, field precedence, and ref resolution.

Rules (README "Federation" documents them for users):

- Naming: a peer's entity lands in its unit's namespace (:mod:`federation.naming`).
- Same entity in several units: copies of one kind that share an identity key are merged into
  one entity. Keys: ``devgraph.io/same-as`` when present (only it), else
  ``backstage.io/source-location`` (without ``url:`` and trailing ``/``) and
  ``github.com/project-slug``, compared in lower case. A key two copies of one unit share
  (a monorepo's slug) identifies nothing and is ignored; a group that would hold two copies of
  one unit is not merged and is reported.
- Precedence: peers are ranked by ``precedence`` (higher first), then name. A merged entity
  takes the ref, kind and name of the highest-ranked copy; every other field (``metadata``
  keys, each label and annotation, each ``spec`` key) comes from the highest-ranked copy that
  has it, and ``provenance.fields`` says which peer gave it. Relations follow their spec
  field, each read in the unit of the copy that gave the field.
- Resolution: a ref resolves inside its own unit when that unit defines it (or a copy merged
  away, which then stands for the merged entity). Otherwise it resolves across units when
  exactly one other unit, or the hub itself, defines the same ref: a cross-unit edge. With
  two or more it is ambiguous: reported, and left unresolved in its own unit, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from federation.naming import hub_ref, unit_namespace
from graph_api.model import Entity, Relation, parse_entity
from graph_api.model.entity import content_hash, spec_relations
from graph_api.model.refs import split_ref
from graph_api.store import PeerRecord

SAME_AS = "devgraph.io/same-as"
SOURCE_LOCATION = "backstage.io/source-location"
PROJECT_SLUG = "github.com/project-slug"
# Annotations and labels merge key by key; every other field is taken whole.
_KEYED = ("annotations", "labels")

CopyKey = tuple[str, str]
"""A peer's copy of an entity: ``(peer name, ref in the peer)``."""


class Held(NamedTuple):
    """What the hub keeps, beside the entity itself, of one entity it took from a peer: enough
    to regroup and re-resolve without reading the entity again. A tuple, as stored: a hub
    reads back one per entity of every peer at each sync.

    ``outside``: refs (in the peer) it points at that its own unit does not define, so
    another unit's change can change where they resolve.
    """

    digest: str
    keys: list[str]
    outside: list[str]


@dataclass(slots=True)
class Copy:
    """One peer's copy of an entity, parsed."""

    peer: PeerRecord
    entity: Entity

    @property
    def key(self) -> CopyKey:
        return (self.peer.name, self.entity.ref)


def identity_keys(entity: Entity) -> list[str]:
    """The keys by which copies of ``entity`` in other units are the same entity."""
    annotations: dict[str, str] = entity.metadata.get("annotations") or {}
    kind = entity.kind.lower()
    same_as = annotations.get(SAME_AS, "").strip().lower()
    if same_as:
        return [f"{kind}|same-as:{same_as}"]
    keys = []
    location = annotations.get(SOURCE_LOCATION, "").strip().removeprefix("url:").rstrip("/")
    if location:
        keys.append(f"{kind}|source-location:{location.lower()}")
    slug = annotations.get(PROJECT_SLUG, "").strip().lower()
    if slug:
        keys.append(f"{kind}|project-slug:{slug}")
    return keys


def precedence_order(peers: Iterable[PeerRecord]) -> list[str]:
    """Peer names, the one whose copies win first."""
    return [p.name for p in sorted(peers, key=lambda p: (-p.precedence, p.name))]


class Groups:
    """Same-as groups over what the hub holds of every peer (one version of each peer).

    Args:
        held: what the hub holds of each peer.
        keys: each peer's :func:`key_index`, of the same version as ``held``.
        order: peer names, highest precedence first.
    """

    def __init__(
        self,
        held: Mapping[str, Mapping[str, Held]],
        keys: Mapping[str, Mapping[str, list[str]]],
        order: list[str],
    ) -> None:
        self.held = held
        self.keys = keys
        self.rank = {name: index for index, name in enumerate(order)}
        self._members: dict[CopyKey, tuple[CopyKey, ...]] = {}
        self.conflicts: set[tuple[CopyKey, ...]] = set()

    def exists(self, copy: CopyKey) -> bool:
        return copy[1] in self.held.get(copy[0], {})

    def members(self, copy: CopyKey) -> tuple[CopyKey, ...]:
        """The copies merged with ``copy``, winner first; ``(copy,)`` when not merged."""
        found = self._members.get(copy)
        if found is not None:
            return found
        seen = {copy}
        stack = [copy]
        while stack:
            peer, ref = stack.pop()
            for key in self.held[peer][ref].keys:
                holders = [(p, r) for p, index in self.keys.items() for r in index.get(key, ())]
                if len({p for p, _ in holders}) != len(holders):
                    continue  # a key two copies of one unit share identifies neither
                for other in holders:
                    if other not in seen:
                        seen.add(other)
                        stack.append(other)
        ordered = tuple(sorted(seen, key=lambda c: (self.rank[c[0]], c[1])))
        if len({p for p, _ in ordered}) != len(ordered):
            self.conflicts.add(ordered)
            for member in ordered:
                self._members[member] = (member,)
            return (copy,)
        for member in ordered:
            self._members[member] = ordered
        return ordered

    def winner(self, copy: CopyKey) -> CopyKey:
        return self.members(copy)[0]


@dataclass(slots=True)
class Resolution:
    """Where one ref goes: the hub ref, and why when not inside its own unit."""

    target: str
    how: str  # "unit", "cross-unit", "unresolved" or "ambiguous"
    candidates: tuple[str, ...] = ()


def key_index(held: Mapping[str, Held]) -> dict[str, list[str]]:
    """One peer's refs by identity key (built once per version of a peer: a sync builds only
    the syncing peer's)."""
    index: dict[str, list[str]] = defaultdict(list)
    for ref, entry in held.items():
        for key in entry.keys:
            index[key].append(ref)
    return index


class World:
    """Everything the hub holds of its peers (one sync's view), to place and resolve refs.

    Args:
        peers: every peer, by name.
        held: what the hub holds of each peer, by peer name then ref in the peer.
        keys: each peer's :func:`key_index`, of the same version as ``held``.
        local: refs the hub's own sources define (candidates of cross-unit resolution).
    """

    def __init__(
        self,
        peers: Mapping[str, PeerRecord],
        held: Mapping[str, Mapping[str, Held]],
        keys: Mapping[str, Mapping[str, list[str]]],
        local: set[str],
    ) -> None:
        self.peers = peers
        self.held = held
        self.local = local
        self.groups = Groups(held, keys, precedence_order(peers.values()))
        self._final: dict[CopyKey, str] = {}

    def final_ref(self, copy: CopyKey) -> str:
        """The hub ref of the entity ``copy`` is (or is merged into)."""
        found = self._final.get(copy)
        if found is None:
            peer, ref = self.groups.winner(copy)
            found = self._final[copy] = hub_ref(self.peers[peer].unit, ref)
        return found

    def resolve(self, peer: str, ref: str) -> Resolution:
        """Where a ref written in ``peer`` (canonical, in the peer's namespaces) goes."""
        if ref in self.held[peer]:
            return Resolution(self.final_ref((peer, ref)), "unit")
        found = {
            self.final_ref((other, ref))
            for other, entries in self.held.items()
            if other != peer and ref in entries
        }
        if ref in self.local:
            found.add(ref)
        own = hub_ref(self.peers[peer].unit, ref)
        if len(found) == 1:
            return Resolution(found.pop(), "cross-unit")
        if found:
            return Resolution(own, "ambiguous", tuple(sorted(found)))
        return Resolution(own, "unresolved")


@dataclass(slots=True)
class Merged:
    """A final entity and what went into it."""

    entity: Entity
    unit: str
    provenance: dict[str, Any]
    winner: Copy
    # Cross-unit resolutions that were ambiguous: (hub ref of the declaring entity, the ref
    # as written in its peer, the candidates).
    ambiguous: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)


def outside_refs(copy: Copy, held: Mapping[str, Held]) -> list[str]:
    """The refs ``copy``'s relations point at that its own unit does not define."""
    own = copy.entity.ref
    ends = {end for r in copy.entity.relations for end in (r.source, r.target) if end != own}
    return sorted(ref for ref in ends if ref not in held)


def merge(copies: list[Copy], world: World) -> Merged:
    """The one entity ``copies`` (winner first) make on the hub, its refs resolved."""
    winner = copies[0]
    final = world.final_ref(winner.key)
    unit = winner.peer.unit
    namespace = unit_namespace(unit, winner.entity.namespace)
    provenance: dict[str, Any] = {
        "peer": winner.peer.name,
        "unit": unit,
        "originalRef": winner.entity.ref,
    }
    if len(copies) == 1:
        descriptor = _renamespaced(winner.entity.descriptor, namespace)
        declared = [(winner, winner.entity.relations)]
    else:
        descriptor, fields, supplied = _merged_descriptor(copies)
        descriptor = _renamespaced(descriptor, namespace)
        declared = [(c, _relations_of(c, supplied[c.key])) for c in copies]
        provenance["copies"] = [
            {
                "peer": c.peer.name,
                "unit": c.peer.unit,
                "originalRef": c.entity.ref,
                "document": c.entity.descriptor,
            }
            for c in copies
        ]
        provenance["fields"] = fields
    relations: dict[tuple[str, str, str], Relation] = {}
    ambiguous: list[tuple[str, str, tuple[str, ...]]] = []
    for copy, found in declared:
        own = copy.entity.ref

        def place(end: str, copy: Copy = copy, own: str = own) -> str:
            if end == own:
                return final
            where = world.resolve(copy.peer.name, end)
            if where.how == "ambiguous":
                ambiguous.append((final, end, where.candidates))
            return where.target

        for rel in found:
            source, target = place(rel.source), place(rel.target)
            relations.setdefault(
                (rel.type.value, source, target), Relation(rel.type, source, target, final)
            )
    ordered = [relations[key] for key in sorted(relations)]
    entity = Entity(
        ref=final,
        kind=winner.entity.kind,
        namespace=namespace,
        name=winner.entity.name,
        descriptor=descriptor,
        relations=ordered,
        hash=content_hash([descriptor, sorted(relations), unit, provenance]),
    )
    return Merged(entity, unit, provenance, winner, ambiguous)


def copies_from_provenance(
    provenance: dict[str, Any], descriptor: dict[str, Any], peers: Mapping[str, PeerRecord]
) -> dict[CopyKey, Copy]:
    """The copies a stored federated entity was made of, as their peers gave them."""
    stored = provenance.get("copies") or [
        {
            "peer": provenance["peer"],
            "originalRef": provenance["originalRef"],
            # The stored descriptor carries the hub namespace; the peer wrote its own.
            "document": _renamespaced(descriptor, split_ref(provenance["originalRef"]).namespace),
        }
    ]
    found: dict[CopyKey, Copy] = {}
    for item in stored:
        peer = peers.get(item["peer"])
        if peer is not None:
            copy = Copy(peer, parse_entity(item["document"]))
            found[copy.key] = copy
    return found


def _renamespaced(descriptor: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**descriptor, "metadata": {**descriptor["metadata"], "namespace": namespace}}


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _merged_descriptor(
    copies: list[Copy],
) -> tuple[dict[str, Any], dict[str, str], dict[CopyKey, set[str]]]:
    """The merged descriptor, the peer each field came from, and the spec fields each copy
    supplied."""
    winner = copies[0].entity.descriptor
    metadata: dict[str, Any] = {"name": winner["metadata"]["name"]}
    spec: dict[str, Any] = {}
    fields: dict[str, str] = {}
    supplied: dict[CopyKey, set[str]] = {c.key: set() for c in copies}
    for copy in copies:
        peer = copy.peer.name
        for key, value in copy.entity.metadata.items():
            if key in ("name", "namespace") or not _present(value):
                continue
            if key in _KEYED and isinstance(value, dict):
                merged = metadata.setdefault(key, {})
                for item, text in value.items():
                    if item not in merged:
                        merged[item] = text
                        fields[f"metadata.{key}.{item}"] = peer
            elif key not in metadata:
                metadata[key] = value
                fields[f"metadata.{key}"] = peer
        for key, value in copy.entity.spec.items():
            if _present(value) and key not in spec:
                spec[key] = value
                fields[f"spec.{key}"] = peer
                supplied[copy.key].add(key)
    descriptor = {k: v for k, v in winner.items() if k not in ("metadata", "spec")}
    descriptor["metadata"] = metadata
    if spec or "spec" in winner:
        descriptor["spec"] = spec
    return descriptor, fields, supplied


def _relations_of(copy: Copy, fields: set[str]) -> list[Relation]:
    """The relations ``copy`` declares through the spec fields it supplied to a merge."""
    entity = copy.entity
    spec = {key: value for key, value in entity.spec.items() if key in fields}
    return spec_relations(entity.kind, entity.ref, entity.namespace, spec, [])
