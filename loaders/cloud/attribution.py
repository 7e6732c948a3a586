"""Who a cloud resource or a line of cost belongs to: resources, tags and labels, accounts.

A tag or label value names a catalog entity as a ref does (``checkout``, ``Checkout``,
``component:default/checkout`` are the same component), and only entities the catalog
defines count: a value naming nothing is reported, and the next key is tried. On a hub that
federates business units, a value naming nothing of the hub's own resolves as a peer's refs
do: to the one unit that defines it (``checkout`` is ``component:payments/checkout`` when only
unit ``payments`` has one); two or more units make it ambiguous, reported and unattributed,
never guessed. The value of
``backstage.io/kubernetes-id`` names the component carrying that annotation, as Backstage's
Kubernetes plugin reads it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from federation.naming import hub_ref
from federation.peers import hub_units
from graph_api.model import RefError, normalize_ref
from graph_api.settings import CostAttribution
from graph_api.store import EntityFilter, EntityOrder, GraphStore

KUBERNETES_ID = "backstage.io/kubernetes-id"
# Annotations devgraph writes on the Resource entities it makes from cloud sources.
CLOUD_ID = "devgraph.dev/cloud-id"
DEFAULT_COMPONENT_KEYS = ("service", "component", "app", "app.kubernetes.io/name", KUBERNETES_ID)
DEFAULT_SYSTEM_KEYS = ("app.kubernetes.io/part-of",)
# AWS writes user-defined cost allocation tags as ``user:<key>`` in some exports.
_USER_PREFIX = "user:"
_EVERYTHING = 10_000_000
_NOT_LABEL = re.compile(r"[^a-z0-9_]")


def normalise_key(key: str) -> str:
    """A tag key as compared: inner spaces collapsed, outer ones dropped, case folded."""
    return " ".join(key.split()).casefold()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A value that may name an entity: a ref, or a Kubernetes id to look up."""

    ref: str
    kubernetes_id: bool = False


@dataclass(frozen=True, slots=True)
class TagKeys:
    """The keys tried, in order: component keys first, then system keys."""

    component: tuple[str, ...] = DEFAULT_COMPONENT_KEYS
    system: tuple[str, ...] = DEFAULT_SYSTEM_KEYS

    @classmethod
    def configured(cls, settings: CostAttribution, extra: Sequence[str] = ()) -> TagKeys:
        """``--tag-key`` values, then the config file's keys, then the defaults."""
        component = [*extra, *settings.component_keys, *DEFAULT_COMPONENT_KEYS]
        system = [*settings.system_keys, *DEFAULT_SYSTEM_KEYS]
        return cls(_unique(component), _unique(system))

    def candidates(self, tags: Mapping[str, Any]) -> list[Candidate]:
        """What the tags name, in the order the keys are tried."""
        values: dict[str, str] = {}
        for key, value in tags.items():
            text = _value_text(value)
            if not isinstance(key, str) or text is None:
                continue
            name = normalise_key(key)
            values.setdefault(name, text)
            if name.startswith(_USER_PREFIX):
                values.setdefault(name[len(_USER_PREFIX) :].strip(), text)
            # Prometheus-style label names, as OpenCost reports them: app_kubernetes_io_name.
            values.setdefault(_sanitised(name).removeprefix("label_"), text)
        found: list[Candidate] = []
        for keys, kind in ((self.component, "Component"), (self.system, "System")):
            for key in keys:
                text = values.get(key, values.get(_sanitised(key)))
                if text is None:
                    continue
                if key == KUBERNETES_ID:
                    found.append(Candidate(text.casefold(), kubernetes_id=True))
                    continue
                try:
                    found.append(Candidate(normalize_ref(text, default_kind=kind)))
                except RefError:
                    continue
        return found


def _sanitised(key: str) -> str:
    return _NOT_LABEL.sub("_", key)


def _unique(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise_key(k) for k in keys if k.strip()))


def _value_text(value: Any) -> str | None:
    # Value-less tags are JSON true; booleans and nulls name nothing.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def parse_tags(text: str | None) -> dict[str, Any]:
    """A FOCUS ``Tags`` JSON object (or nothing); anything else holds no tags."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ResourceTie:
    """A catalogued cloud resource and the entity it is tied to (None: nobody)."""

    resource: str
    entity: str | None


@dataclass
class Catalog:
    """What attribution needs from the catalog, read once per load and cached.

    Args:
        store: the graph store.
        keys: the tag and label keys to try.
        accounts: account or subscription id -> team ref.
    """

    store: GraphStore
    keys: TagKeys = field(default_factory=TagKeys)
    accounts: dict[str, str] = field(default_factory=dict)
    kubernetes_ids: dict[str, str] = field(default_factory=dict)
    resources: dict[str, ResourceTie] = field(default_factory=dict)
    units: tuple[str, ...] = ()
    unknown: Counter[str] = field(default_factory=Counter)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _defined: dict[str, bool] = field(default_factory=dict)
    _kubernetes_loaded: bool = False

    @classmethod
    async def load(
        cls, store: GraphStore, settings: CostAttribution, extra_keys: Sequence[str] = ()
    ) -> Catalog:
        """Read the catalogued cloud resources; check the account rules' teams."""
        accounts = {
            account.strip(): normalize_ref(team, default_kind="Group")
            for account, team in settings.accounts.items()
        }
        catalog = cls(
            store, TagKeys.configured(settings, extra_keys), accounts, units=await hub_units(store)
        )
        for record in await _all(store, EntityFilter(kinds=["resource"], annotation=CLOUD_ID)):
            spec = record.descriptor.get("spec") or {}
            tied = next(iter(spec.get("dependencyOf") or []), None) or record.system
            tie = ResourceTie(record.ref, _canonical(tied) if tied else None)
            for cloud_id in spec.get("cloudIds") or []:
                catalog.resources.setdefault(str(cloud_id).casefold(), tie)
        await catalog.defined(accounts.values())
        return catalog

    async def defined(self, refs: Iterable[str]) -> set[str]:
        """Those of ``refs`` the catalog defines (one store call for the ones not seen yet)."""
        wanted = list(dict.fromkeys(refs))
        unseen = [ref for ref in wanted if ref not in self._defined]
        if unseen:
            claims = await self.store.claims(unseen)
            for ref in unseen:
                self._defined[ref] = ref in claims
        return {ref for ref in wanted if self._defined[ref]}

    def refs_of(self, candidates: Iterable[Candidate]) -> list[str]:
        """Candidates as refs; a Kubernetes id nobody annotated names nothing."""
        found = []
        for candidate in candidates:
            if candidate.kubernetes_id:
                ref = self.kubernetes_ids.get(candidate.ref)
                if ref is None:
                    self.unknown[f"{KUBERNETES_ID}={candidate.ref}"] += 1
                    continue
                found.append(ref)
            else:
                found.append(candidate.ref)
        return found

    async def _load_kubernetes_ids(self) -> None:
        # Read only when a value needs it: in a large catalog every component may carry the
        # annotation, and most cost files never name one.
        self._kubernetes_loaded = True
        annotated = await _all(
            self.store, EntityFilter(kinds=["component"], annotation=KUBERNETES_ID)
        )
        for record in annotated:
            value = (record.descriptor.get("metadata") or {}).get("annotations", {})[KUBERNETES_ID]
            self.kubernetes_ids.setdefault(value.strip().casefold(), record.ref)

    async def entity_for(self, candidate_lists: Sequence[list[Candidate]]) -> list[str | None]:
        """For each list, the first candidate the catalog defines, on a hub in the one unit
        defining it (None when none does)."""
        wanted = any(c.kubernetes_id for candidates in candidate_lists for c in candidates)
        if wanted and not self._kubernetes_loaded:
            await self._load_kubernetes_ids()
        ref_lists = [self.refs_of(candidates) for candidates in candidate_lists]
        in_units = {
            ref: [hub_ref(unit, ref) for unit in self.units] for refs in ref_lists for ref in refs
        }
        defined = await self.defined(
            [*in_units, *(ref for refs in in_units.values() for ref in refs)]
        )
        chosen: list[str | None] = []
        for refs in ref_lists:
            entity = None
            for ref in refs:
                found = [ref] if ref in defined else [r for r in in_units[ref] if r in defined]
                if len(found) == 1:
                    entity = found[0]
                    break
                if found:
                    self.ambiguous[ref] = tuple(found)
                    self.unknown[ref] += 1
                    break
            else:
                if refs:
                    self.unknown[refs[0]] += 1
            chosen.append(entity)
        return chosen

    def account_team(self, account: str | None) -> str | None:
        if account is None:
            return None
        team = self.accounts.get(account.strip())
        if team is not None and not self._defined.get(team):
            self.unknown[team] += 1
            return None
        return team

    def warnings(self) -> list[str]:
        """One line per tag or label value that named no catalog entity."""
        return [
            f"{count} time(s) a tag or label named {ref}, which "
            + (
                f"units define as {', '.join(self.ambiguous[ref])}, so it is ambiguous"
                if ref in self.ambiguous
                else "the catalog does not define"
            )
            + "; that cost or resource is unattributed"
            for ref, count in sorted(self.unknown.items())
        ]


def _canonical(text: str) -> str | None:
    try:
        return normalize_ref(text, default_kind="Component")
    except RefError:
        return None


async def _all(store: GraphStore, where: EntityFilter) -> list[Any]:
    records, _ = await store.find_entities(where, EntityOrder.REF, False, 0, _EVERYTHING)
    return records
