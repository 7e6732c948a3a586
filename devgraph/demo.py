"""A deterministic demo organisation written as Backstage catalog YAML, from 50 to 100k+ components.

``python -m devgraph.demo OUT_DIR [--components N] [--seed S]`` writes ``OUT_DIR/all.yaml`` (a
``Location`` whose targets are every other file) and, per business unit, one multi-document file
per kind (``payments/components.yaml``, ...; split into 1,000-document chunks at scale). The
default, 300 components, is the bundled demo: five business units, 30 teams, dependency hubs
such as ``auth-service`` and one deliberate ``dependsOn`` cycle. Larger estates keep the same
code path at benchmark ratios: N/20 teams, N/50 systems, N/10 APIs and resources, about five
``dependsOn`` per component with power-law in-degree.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, chain
from pathlib import Path
from random import Random
from typing import Any

import yaml

__all__ = ["MIN_COMPONENTS", "EstateSummary", "dump_documents", "generate_estate", "main"]

API_VERSION = "backstage.io/v1alpha1"
MIN_COMPONENTS = 50
DOCS_PER_FILE = 1000
ORG = "acme"
MAIL_DOMAIN = "acme.example"
ESTATE_LOCATION = "acme-estate"
LABS_NAMESPACE = "labs"


@dataclass(frozen=True, slots=True)
class EstateSummary:
    """What :func:`generate_estate` wrote, for callers and tests to check against the files.

    ``counts`` is documents per kind (the ``Location`` in ``all.yaml`` included); ``files`` are
    the written paths, ``all.yaml`` first; ``hubs`` the names of the most depended-on
    components, most first; ``cycle`` the component refs of the deliberate cycle, each
    depending on the next and the last on the first; ``depends_on`` the number of dependency
    edges, whether written as ``dependsOn`` or as ``dependencyOf``.
    """

    counts: Mapping[str, int]
    files: tuple[Path, ...]
    hubs: tuple[str, ...]
    cycle: tuple[str, ...]
    depends_on: int

    @property
    def location(self) -> Path:
        """``all.yaml``: the one file to load the whole estate from."""
        return self.files[0]


@dataclass(frozen=True, slots=True)
class _UnitSeed:
    name: str
    title: str
    teams: tuple[str, ...]
    systems: tuple[str, ...]
    nouns: tuple[str, ...]
    tags: tuple[str, ...] = ()


_CURATED_UNITS = (
    _UnitSeed(
        "payments",
        "Payments",
        teams=("ledger", "cards", "payouts", "billing", "fraud", "treasury"),
        systems=(
            "payments-core", "card-processing", "payouts", "billing", "fraud-detection",
            "treasury", "payment-methods", "card-vault", "payout-reporting", "invoicing",
            "risk-scoring", "fx-rates",
        ),
        nouns=(
            "ledger", "settlement", "payment", "refund", "payout", "card", "tokenization",
            "acquiring", "issuing", "invoice", "billing", "subscription", "dunning", "fraud",
            "risk", "chargeback", "dispute", "fx", "treasury", "wallet", "tax", "remittance",
            "merchant", "payment-link",
        ),
        tags=("pci",),
    ),
    _UnitSeed(
        "commerce",
        "Commerce",
        teams=("checkout", "storefront", "catalog", "search", "orders", "promotions"),
        systems=(
            "checkout", "storefront", "product-catalog", "product-search", "orders", "promotions",
            "express-checkout", "mobile-storefront", "catalog-ingestion", "recommendations",
            "order-history", "loyalty",
        ),
        nouns=(
            "checkout", "cart", "order", "basket", "catalog", "product", "search",
            "recommendation", "review", "promotion", "coupon", "wishlist", "pricing",
            "storefront", "merchandising", "loyalty", "gift-card", "customer", "bundle", "offer",
        ),
    ),
    _UnitSeed(
        "logistics",
        "Logistics",
        teams=("fulfilment", "shipping", "warehouse", "routing", "returns", "carriers"),
        systems=(
            "fulfilment", "shipping", "warehouse-management", "route-planning", "returns",
            "carrier-integration", "order-allocation", "label-printing", "yard-management",
            "last-mile", "returns-portal", "carrier-billing",
        ),
        nouns=(
            "shipment", "parcel", "label", "carrier", "route", "dispatch", "warehouse", "picking",
            "packing", "returns", "tracking", "inventory", "stock", "delivery-slot", "manifest",
            "customs", "freight", "allocation", "courier", "dock",
        ),
    ),
    _UnitSeed(
        "identity",
        "Identity",
        teams=("auth", "edge", "accounts", "profiles", "permissions", "security"),
        systems=(
            "identity-access", "edge", "accounts", "user-profiles", "authorization",
            "security-monitoring", "single-sign-on", "api-management", "account-recovery",
            "consent", "roles", "secrets",
        ),
        nouns=(
            "auth", "token", "session", "login", "mfa", "password", "account", "profile",
            "permission", "role", "policy", "consent", "sso", "oauth", "scim", "directory",
            "secret", "key", "device", "risk-signal",
        ),
        tags=("gdpr",),
    ),
    _UnitSeed(
        "data-platform",
        "Data Platform",
        teams=(
            "event-streaming", "experimentation", "data-lake", "ml-platform", "analytics",
            "data-quality",
        ),
        systems=(
            "event-streaming", "experimentation", "data-lake", "ml-platform", "reporting",
            "data-quality", "feature-store", "data-catalog", "clickstream", "model-serving",
            "dashboards", "lineage",
        ),
        nouns=(
            "event", "stream", "schema", "ingestion", "lake", "etl", "feature", "model",
            "training", "inference", "metric", "report", "dashboard", "lineage", "quality",
            "clickstream", "experiment", "segment", "cdc", "warehouse-sync",
        ),
    ),
)
# Business units beyond the curated five only appear at scale (N/2000 domains).
_EXTRA_UNITS = (
    "marketing", "support", "messaging", "notifications", "media", "advertising", "partners",
    "sales", "finance", "people", "legal", "observability", "infrastructure", "devex", "mobile",
    "growth", "crm", "content", "localisation", "insurance", "lending", "travel", "marketplace",
    "gaming", "health", "learning", "iot", "maps", "voice", "video", "music", "social",
    "trust-safety", "compliance", "procurement", "workplace", "it-services", "networking",
    "storage", "compute", "databases", "research", "accessibility", "sustainability", "security",
)
_GENERIC_NOUNS = (
    "core", "events", "admin", "reporting", "sync", "import", "export", "notify", "config",
    "scheduler", "audit", "search", "gateway", "ingest", "index", "cache", "workflow", "rules",
    "profile", "directory", "stream", "metrics", "alerting", "billing", "portal",
)
_QUALIFIERS = (
    "batch", "sync", "query", "admin", "export", "import", "stream", "rules", "notify", "audit",
    "legacy", "internal", "partner", "mobile", "public", "search", "v2", "edge",
)
_SUFFIXES = {
    "service": ("service", "api", "worker", "consumer", "scheduler", "adapter", "processor"),
    "website": ("web", "ui", "portal", "console", "dashboard"),
    "library": ("lib", "sdk", "client"),
}
_LANGUAGES = {
    "service": ("java", "kotlin", "go", "python", "typescript", "scala", "rust"),
    "website": ("typescript", "javascript"),
    "library": ("java", "go", "python", "typescript", "rust"),
}

# Named components the README's example queries use. Each list belongs to a system, and every
# one of those systems is among the first two of its unit, so they exist from MIN_COMPONENTS on.
_ANCHOR_COMPONENTS = {
    "payments-core": (
        "payments-service", "ledger-service", "settlement-service", "reconciliation-worker"
    ),
    "checkout": ("checkout-api", "order-service"),
    "storefront": ("storefront-web",),
    "identity-access": ("auth-service", "audit-log"),
    "edge": ("api-gateway",),
    "event-streaming": ("event-bus",),
    "experimentation": ("feature-flags",),
}
# Only websites carry extra dependencies: nothing depends on a website, so these edges can
# never close a cycle beyond the deliberate one.
_ANCHOR_DEPENDENCIES = {"storefront-web": ("checkout-api", "api-gateway")}
_ANCHOR_APIS = (
    ("payments-api", "openapi", "payments-service"),
    ("auth-api", "openapi", "auth-service"),
    ("checkout-api", "openapi", "checkout-api"),
    ("platform-events", "asyncapi", "event-bus"),
)
_ANCHOR_RESOURCES = (
    ("orders-db", "database", ("checkout-api", "order-service")),
    ("ledger-db", "database", ("ledger-service", "settlement-service")),
)
_HUBS = ("auth-service", "api-gateway", "event-bus", "feature-flags", "audit-log")
# Share of (non-library) components that call each hub: most call auth, fewer the rest.
_HUB_REACH = (0.7, 0.4, 0.3, 0.24, 0.2)
_CYCLE = ("ledger-service", "settlement-service", "reconciliation-worker")


class _Table:
    """Weighted choice; ``random.choices`` rebuilds its cumulative weights on every call."""

    __slots__ = ("_cumulative", "_values")

    def __init__(self, *pairs: tuple[Any, int]) -> None:
        self._values = [value for value, _ in pairs]
        self._cumulative = list(accumulate(weight for _, weight in pairs))

    def pick(self, rng: Random) -> Any:
        return self._values[bisect_right(self._cumulative, rng.random() * self._cumulative[-1])]


_TYPES = _Table(("service", 65), ("website", 15), ("library", 20))
_LIFECYCLES = _Table(("production", 75), ("experimental", 15), ("deprecated", 10))
# Non-hub dependsOn per component: mean ~3.6, so with hubs and resources ~5 in all.
_DEPENDENCY_COUNTS = _Table(
    (0, 5), (1, 14), (2, 20), (3, 20), (4, 14), (5, 10), (6, 7), (8, 6), (12, 4)
)
_API_TYPES = _Table(("openapi", 55), ("grpc", 20), ("asyncapi", 15), ("graphql", 10))
_API_SUFFIX = {"openapi": "api", "grpc": "grpc", "asyncapi": "events", "graphql": "graphql"}
_CONSUMER_COUNTS = _Table((0, 10), (1, 30), (2, 25), (3, 15), (4, 10), (6, 5), (10, 5))
_RESOURCE_TYPES = _Table(("database", 45), ("queue", 25), ("bucket", 20), ("cache", 10))
_API_LABEL = {
    "openapi": "REST API", "grpc": "gRPC API", "asyncapi": "events", "graphql": "GraphQL API"
}
_API_TAG = {"openapi": "rest", "grpc": "grpc", "asyncapi": "events", "graphql": "graphql"}
_RESOURCE_SUFFIX = {"database": "db", "queue": "queue", "bucket": "bucket", "cache": "cache"}
_RESOURCE_TECH = {
    "database": ("postgres", "mysql", "dynamodb"),
    "queue": ("sqs", "kafka", "rabbitmq"),
    "bucket": ("s3", "gcs"),
    "cache": ("redis", "memcached"),
}
_TEAM_SIZES = (2, 2, 2, 3, 3, 3, 3, 4, 4, 6)
_PAGERDUTY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

_FIRST_NAMES = (
    "Aisha", "Alejandro", "Amara", "Anders", "Ana", "Arjun", "Beatriz", "Björn", "Camille",
    "Chen", "Chloé", "Daniel", "Dmitri", "Elif", "Emma", "Fatima", "Felix", "Gabriel", "Grace",
    "Hana", "Hiroshi", "Ibrahim", "Ingrid", "Isabel", "Jamal", "Jia", "José", "Kai", "Kateryna",
    "Kwame", "Lars", "Layla", "Leon", "Lucía", "Maja", "Marco", "Maria", "Mateo", "Mei",
    "Mohammed", "Nadia", "Naveen", "Nia", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Ravi",
    "Sakura", "Samuel", "Sofia", "Søren", "Tariq", "Thandiwe", "Tomás", "Valentina", "Wei",
    "Yusuf", "Zoë",
)
_LAST_NAMES = (
    "Abebe", "Adeyemi", "Ahmed", "Andersson", "Bakker", "Banerjee", "Costa", "Dubois", "Eriksen",
    "Fernández", "Fischer", "García", "Haddad", "Hansen", "Hoffmann", "Ivanova", "Jansen",
    "Kim", "Kowalski", "Kumar", "Larsen", "Li", "Lindqvist", "López", "Martin", "Mensah",
    "Moreau", "Müller", "Nakamura", "Nguyen", "Novak", "O'Brien", "Okafor", "Olsen", "Park",
    "Patel", "Pereira", "Petrov", "Popescu", "Rahman", "Reyes", "Rossi", "Santos", "Sato",
    "Schmidt", "Silva", "Singh", "Smith", "Sørensen", "Suzuki", "Tanaka", "Tran", "Van Dijk",
    "Wang", "Weber", "Williams", "Yamamoto", "Yilmaz", "Zhang", "Żukowski",
)
# Letters NFKD does not decompose into ASCII.
_ASCII_FOLD = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae"})


@dataclass(frozen=True, slots=True)
class _Sizes:
    domains: int
    teams: int
    systems: int
    apis: int
    resources: int
    labs: int

    @classmethod
    def for_components(cls, n: int) -> _Sizes:
        # Benchmark ratios at scale; the floors give the small demo its ~6 teams and ~12
        # systems per business unit and ~1 API and resource per 3 components.
        domains = max(5, n // 2000)
        return cls(
            domains=domains,
            teams=max(n // 20, min(6 * domains, n // 10)),
            systems=max(n // 50, min(12 * domains, n // 5)),
            apis=max(n // 10, min(n // 3, 20 * domains)),
            resources=max(n // 10, min(n // 3, 20 * domains)),
            labs=max(2, n // 1000),
        )


@dataclass(eq=False, slots=True)
class _Unit:
    name: str
    title: str
    nouns: tuple[str, ...]
    tags: tuple[str, ...]
    team_names: Iterator[str]
    system_names: Iterator[str]
    teams: list[_Team] = field(default_factory=list)
    systems: list[_System] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Team:
    name: str
    title: str
    unit: _Unit
    users: list[tuple[str, str]] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _System:
    name: str
    unit: _Unit
    team: _Team
    components: list[_Component] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Component:
    name: str
    stem: str
    type: str
    lifecycle: str
    system: _System
    owner: _Team
    namespace: str = "default"
    rank: int = 0
    depends: set[_Component | _Resource] = field(default_factory=set)
    provides: list[_Api] = field(default_factory=list)
    consumes: set[_Api] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Api:
    name: str
    type: str
    provider: _Component


@dataclass(eq=False, slots=True)
class _Resource:
    name: str
    type: str
    system: _System
    dependency_of: list[_Component] = field(default_factory=list)


_Entity = _Component | _Resource | _Api | _System | _Team
_Scope = tuple[list[_Component], list[int]]


class _Names:
    """Unique names per kind: a generated estate never defines one entity twice."""

    def __init__(self) -> None:
        self._used: dict[str, set[str]] = defaultdict(set)
        self._next: Counter[tuple[str, str]] = Counter()

    def claim(self, kind: str, name: str) -> bool:
        used = self._used[kind]
        if name in used:
            return False
        used.add(name)
        return True

    def first_free(self, kind: str, candidates: Iterator[str], fallback: str) -> str:
        for name in candidates:
            if self.claim(kind, name):
                return name
        return self.numbered(kind, fallback)

    def numbered(self, kind: str, base: str) -> str:
        while True:
            self._next[kind, base] += 1
            name = f"{base}-{self._next[kind, base] + 1}"
            if self.claim(kind, name):
                return name

    def stemmed(self, kind: str, rng: Random, stem: str, suffix: str) -> tuple[str, str]:
        """``stem-suffix``, else ``stem-qualifier-suffix``, else numbered; with the stem used."""
        if self.claim(kind, f"{stem}-{suffix}"):
            return f"{stem}-{suffix}", stem
        qualified = f"{stem}-{rng.choice(_QUALIFIERS)}"
        if self.claim(kind, f"{qualified}-{suffix}"):
            return f"{qualified}-{suffix}", qualified
        return self.numbered(kind, f"{stem}-{suffix}"), stem


def _words(slug: str) -> str:
    return slug.replace("-", " ")


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in slug.split("-"))


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


class _Builder:
    """Builds the organisation in memory, then renders it as descriptor documents per file."""

    def __init__(self, components: int, seed: int) -> None:
        self.rng = Random(seed)
        self.size = components
        self.sizes = _Sizes.for_components(components)
        self.names = _Names()
        self.units: list[_Unit] = []
        self.components: list[_Component] = []
        self.by_name: dict[str, _Component] = {}
        self.apis: list[_Api] = []
        self.resources: list[_Resource] = []
        self.anchored: set[str] = set()

    def build(self) -> None:
        self._organisation()
        self._systems()
        self._components()
        self._dependencies()
        self._apis()
        self._resources()

    # -- structure ---------------------------------------------------------------------------

    def _organisation(self) -> None:
        self.names.claim("group", ORG)
        for index in range(self.sizes.domains):
            base = _CURATED_UNITS[index] if index < len(_CURATED_UNITS) else None
            if base is None:
                extra = index - len(_CURATED_UNITS)
                name = _EXTRA_UNITS[extra % len(_EXTRA_UNITS)]
                if extra >= len(_EXTRA_UNITS):
                    name = f"{name}-{extra // len(_EXTRA_UNITS) + 1}"
                base = _UnitSeed(
                    name, _words(name).title(), (), (), tuple(f"{name}-{n}" for n in _GENERIC_NOUNS)
                )
            self.names.claim("domain", base.name)
            self.names.claim("group", base.name)
            self.units.append(
                _Unit(
                    name=base.name,
                    title=base.title,
                    nouns=base.nouns,
                    tags=base.tags,
                    team_names=chain(
                        (f"team-{t}" for t in base.teams),
                        (f"team-{n}" for n in base.nouns),
                        (f"team-{base.name}-{n}" for n in _GENERIC_NOUNS),
                    ),
                    system_names=chain(
                        base.systems,
                        (f"{n}-platform" for n in base.nouns),
                        (f"{base.name}-{n}-platform" for n in _GENERIC_NOUNS),
                    ),
                )
            )
        for index in range(self.sizes.teams):
            unit = self.units[index % len(self.units)]
            name = self.names.first_free("group", unit.team_names, f"team-{unit.name}")
            team = _Team(name, _words(name.removeprefix("team-")).title(), unit)
            unit.teams.append(team)
            for _ in range(self.rng.choice(_TEAM_SIZES)):
                first, last = self.rng.choice(_FIRST_NAMES), self.rng.choice(_LAST_NAMES)
                user = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
                if not self.names.claim("user", user):
                    user = self.names.numbered("user", user)
                team.users.append((user, f"{first} {last}"))

    def _systems(self) -> None:
        for index in range(self.sizes.systems):
            unit = self.units[index % len(self.units)]
            # Round-robin over the unit's teams lines the curated systems up with their teams.
            team = unit.teams[len(unit.systems) % len(unit.teams)]
            name = self.names.first_free("system", unit.system_names, f"{unit.name}-system")
            unit.systems.append(_System(name, unit, team))

    def _components(self) -> None:
        rng = self.rng
        systems = [s for u in self.units for s in u.systems]
        by_system = {s.name: s for s in systems}
        for system_name, names in _ANCHOR_COMPONENTS.items():
            for name in names:
                self.names.claim("component", name)
                stem, _, suffix = name.rpartition("-")
                ctype = next((t for t, sfx in _SUFFIXES.items() if suffix in sfx), "service")
                system = by_system[system_name]
                self._add(name, stem or name, ctype, "production", system, system.team)
                self.anchored.add(name)
        # Every system gets a component, the rest go where weights (heavy-tailed) send them.
        remaining = self.size - len(self.components)
        weights = [rng.paretovariate(2.0) for _ in systems]
        homes = systems[:remaining] + rng.choices(
            systems, weights, k=max(0, remaining - len(systems))
        )
        order = {system: position for position, system in enumerate(systems)}
        homes.sort(key=order.__getitem__)
        for system in homes:
            ctype = _TYPES.pick(rng)
            unit = system.unit
            owner = system.team if rng.random() < 0.7 else rng.choice(unit.teams)
            name, stem = self.names.stemmed(
                "component", rng, rng.choice(unit.nouns), rng.choice(_SUFFIXES[ctype])
            )
            self._add(name, stem, ctype, _LIFECYCLES.pick(rng), system, owner)
        generated = [c for c in self.components if c.name not in self.anchored]
        for component in rng.sample(generated, self.sizes.labs):
            component.namespace = LABS_NAMESPACE
            component.lifecycle = "experimental"

    def _add(
        self, name: str, stem: str, ctype: str, lifecycle: str, system: _System, owner: _Team
    ) -> None:
        component = _Component(name, stem, ctype, lifecycle, system, owner)
        system.components.append(component)
        self.components.append(component)
        self.by_name[name] = component

    # -- relations ---------------------------------------------------------------------------

    def _ranked(self) -> None:
        """A total order; dependsOn only points down it, so the deliberate cycle is the only one.

        Hubs come first and websites last: foundational services sit low, user-facing sites on top.
        """
        hubs = [self.by_name[name] for name in _HUBS]
        middle = [c for c in self.components if c.type != "website" and c.name not in _HUBS]
        sites = [c for c in self.components if c.type == "website"]
        self.rng.shuffle(middle)
        self.rng.shuffle(sites)
        for rank, component in enumerate(chain(hubs, middle, sites)):
            component.rank = rank

    def _scopes(self, members: Iterable[_Component]) -> dict[object, _Scope]:
        """Rank-sorted components per system, per unit and overall (key ``None``)."""
        grouped: dict[object, list[_Component]] = defaultdict(list)
        for component in members:
            grouped[component.system].append(component)
            grouped[component.system.unit].append(component)
            grouped[None].append(component)
        scopes: dict[object, _Scope] = {}
        for key, items in grouped.items():
            items.sort(key=lambda c: c.rank)
            scopes[key] = (items, [c.rank for c in items])
        return scopes

    def _scope_of(
        self, scopes: dict[object, _Scope], component: _Component, local: float
    ) -> _Scope:
        """``component``'s system with probability ``local``, else its unit or the company."""
        roll = self.rng.random()
        if roll < local:
            key: object = component.system
        elif roll < local + (1 - local) * 0.6:
            key = component.system.unit
        else:
            key = None
        return scopes.get(key) or scopes[None]

    def _dependencies(self) -> None:
        rng = self.rng
        self._ranked()
        hubs = [(self.by_name[name], reach) for name, reach in zip(_HUBS, _HUB_REACH, strict=True)]
        targets = self._scopes(c for c in self.components if c.type != "website")
        for here, there in zip(_CYCLE, _CYCLE[1:] + _CYCLE[:1]):
            self.by_name[here].depends.add(self.by_name[there])
        for component in self.components:
            if component.type != "library":
                for hub, reach in hubs:
                    if hub.rank < component.rank and rng.random() < reach:
                        component.depends.add(hub)
            if component.name in _CYCLE:
                continue  # kept to the cycle and hubs, so no other path closes a larger loop
            for _ in range(_DEPENDENCY_COUNTS.pick(rng)):
                items, ranks = self._scope_of(targets, component, 0.5)
                below = bisect_left(ranks, component.rank)
                if not below:  # nothing lower in its system or unit: look company-wide
                    items, ranks = targets[None]
                    below = bisect_left(ranks, component.rank)
                # Squaring skews picks toward the lowest ranks: a power-law in-degree.
                if below:
                    component.depends.add(items[int(below * rng.random() ** 2)])
        for name, extra in _ANCHOR_DEPENDENCIES.items():
            self.by_name[name].depends.update(self.by_name[target] for target in extra)

    def _apis(self) -> None:
        rng = self.rng
        for name, api_type, provider in _ANCHOR_APIS:
            self.names.claim("api", name)
            self._add_api(name, api_type, self.by_name[provider])
        providers = [c for c in self.components if c.type == "service" and not c.provides]
        rng.shuffle(providers)
        for index in range(self.sizes.apis - len(self.apis)):
            provider = providers[index % len(providers)]
            api_type = _API_TYPES.pick(rng)
            name, _ = self.names.stemmed("api", rng, provider.stem, _API_SUFFIX[api_type])
            self._add_api(name, api_type, provider)
        # Consumers sit above their provider in the dependency order, so reading consumesApis
        # as a dependency would not add cycles either.
        everyone = self._scopes(self.components)
        for api in self.apis:
            for _ in range(_CONSUMER_COUNTS.pick(rng)):
                items, ranks = self._scope_of(everyone, api.provider, 0.3)
                above = bisect_right(ranks, api.provider.rank)
                if above < len(items):
                    items[above + int((len(items) - above) * rng.random())].consumes.add(api)

    def _add_api(self, name: str, api_type: str, provider: _Component) -> None:
        api = _Api(name, api_type, provider)
        provider.provides.append(api)
        self.apis.append(api)

    def _resources(self) -> None:
        rng = self.rng
        for name, resource_type, users in _ANCHOR_RESOURCES:
            self.names.claim("resource", name)
            resource = _Resource(name, resource_type, self.by_name[users[0]].system)
            self.resources.append(resource)
            for user in users:
                self.by_name[user].depends.add(resource)
        systems = [s for u in self.units for s in u.systems if s.components]
        rng.shuffle(systems)
        for index in range(self.sizes.resources - len(self.resources)):
            system = systems[index % len(systems)]
            eligible = [c for c in system.components if c.type != "website"] or system.components
            users = rng.sample(eligible, min(len(eligible), rng.choice((1, 1, 2, 2, 3, 4))))
            resource_type = _RESOURCE_TYPES.pick(rng)
            name, _ = self.names.stemmed(
                "resource", rng, users[0].stem, _RESOURCE_SUFFIX[resource_type]
            )
            resource = _Resource(name, resource_type, system)
            self.resources.append(resource)
            # Backstage accepts the edge from either end; real catalogs use both spellings.
            if rng.random() < 0.5:
                resource.dependency_of.extend(users)
            else:
                for user in users:
                    user.depends.add(resource)

    # -- documents ---------------------------------------------------------------------------

    def files(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(relative path, documents) per file: each business unit's kinds in their own files.

        Documents are built one file at a time, so a 100k estate is never all in memory twice.
        """
        yield "org.yaml", [self._org_doc()]
        components: dict[_Unit, list[_Component]] = defaultdict(list)
        apis: dict[_Unit, list[_Api]] = defaultdict(list)
        resources: dict[_Unit, list[_Resource]] = defaultdict(list)
        for component in self.components:
            components[component.system.unit].append(component)
        for api in self.apis:
            apis[api.provider.system.unit].append(api)
        for resource in self.resources:
            resources[resource.system.unit].append(resource)
        for unit in self.units:
            kinds: list[tuple[str, Sequence[Any], Callable[[Any, int], dict[str, Any]]]] = [
                ("domain", [unit], lambda u, _: self._domain_doc(u)),
                ("groups", [unit, *unit.teams], self._group_doc),
                ("users", [(t, *u) for t in unit.teams for u in t.users], self._user_doc),
                ("systems", unit.systems, self._system_doc),
                ("components", components[unit], self._component_doc),
                ("apis", apis[unit], self._api_doc),
                ("resources", resources[unit], self._resource_doc),
            ]
            for kind, items, render in kinds:
                chunks = -(-len(items) // DOCS_PER_FILE)
                width = len(str(chunks))
                for number in range(chunks):
                    start = number * DOCS_PER_FILE
                    suffix = f"-{number + 1:0{width}d}" if chunks > 1 else ""
                    yield f"{unit.name}/{kind}{suffix}.yaml", [
                        render(item, start + offset)
                        for offset, item in enumerate(items[start : start + DOCS_PER_FILE])
                    ]

    def _ref(
        self, kind: str, target: _Entity, origin: str, default_kind: str | None, form: int
    ) -> str:
        """``target`` in one of the forms Backstage accepts: 0 full, 1 shortest, 2 with kind."""
        namespace = target.namespace if isinstance(target, _Component) else "default"
        text = target.name if namespace == origin and form != 0 else f"{namespace}/{target.name}"
        if form == 1 and default_kind == kind:
            return text
        return f"{kind.lower()}:{text}"

    def _owner(self, team: _Team, origin: str, index: int) -> str:
        # Real catalogs mix `group:default/x`, `x` and `group:x`; so does the demo.
        return self._ref("Group", team, origin, "Group", index % 3)

    def _org_doc(self) -> dict[str, Any]:
        return _doc(
            "Group",
            {"name": ORG, "title": "ACME Corp", "description": "The whole company."},
            {
                "type": "organization",
                "profile": {"displayName": "ACME Corp", "email": f"hello@{MAIL_DOMAIN}"},
                "children": [unit.name for unit in self.units],
            },
        )

    def _domain_doc(self, unit: _Unit) -> dict[str, Any]:
        return _doc(
            "Domain",
            {
                "name": unit.name,
                "title": unit.title,
                "description": f"Everything the {unit.title} business unit builds and runs.",
                "tags": [unit.name],
            },
            {"owner": f"group:default/{unit.name}"},
        )

    def _group_doc(self, group: _Unit | _Team, _index: int) -> dict[str, Any]:
        if isinstance(group, _Unit):
            metadata = {"name": group.name, "title": group.title}
            metadata["description"] = f"The {group.title} business unit."
            spec: dict[str, Any] = {"type": "business-unit"}
            display, parent, children = group.title, ORG, [team.name for team in group.teams]
        else:
            display = f"{group.title} team"
            metadata = {"name": group.name, "title": display}
            spec = {"type": "team"}
            parent, children = group.unit.name, []
        spec["profile"] = {"displayName": display, "email": f"{group.name}@{MAIL_DOMAIN}"}
        spec["parent"] = parent
        spec["children"] = children
        return _doc("Group", metadata, spec)

    def _user_doc(self, member: tuple[_Team, str, str], _index: int) -> dict[str, Any]:
        team, name, display = member
        return _doc(
            "User",
            {"name": name},
            {
                "profile": {"displayName": display, "email": f"{name}@{MAIL_DOMAIN}"},
                "memberOf": [team.name],
            },
        )

    def _system_doc(self, system: _System, index: int) -> dict[str, Any]:
        words = _words(system.name)
        return _doc(
            "System",
            {
                "name": system.name,
                "title": words.title(),
                "description": f"{words.capitalize()}, run by the {system.team.title} team.",
                "tags": [system.unit.name],
            },
            {"owner": self._owner(system.team, "default", index), "domain": system.unit.name},
        )

    def _component_doc(self, c: _Component, index: int) -> dict[str, Any]:
        rng = self.rng
        ns = c.namespace
        unit = c.system.unit
        tags = [rng.choice(_LANGUAGES[c.type]), unit.name]
        if unit.tags and rng.random() < 0.3:
            tags.extend(unit.tags)
        if c.name in _HUBS:
            tags.append("tier-1")
        annotations = {
            "github.com/project-slug": f"{ORG}/{c.name}",
            "backstage.io/source-location": f"url:https://github.com/{ORG}/{c.name}",
        }
        if c.type != "website" and rng.random() < 0.5:
            annotations["backstage.io/techdocs-ref"] = "dir:."
        if c.type == "service":
            annotations["backstage.io/kubernetes-id"] = c.name
        if c.type != "library" and c.lifecycle == "production":
            code = "".join(rng.choices(_PAGERDUTY_ALPHABET, k=6))
            annotations["pagerduty.com/service-id"] = f"P{code}"
        metadata: dict[str, Any] = {"name": c.name}
        if ns != "default":
            metadata["namespace"] = ns
        role = _words(c.name.removeprefix(c.stem).strip("-") or c.type)
        metadata["description"] = (
            f"{_words(c.stem).capitalize()} {role} in the {c.system.name} system."
        )
        metadata["tags"] = tags
        metadata["annotations"] = annotations
        metadata["links"] = _links(c)
        spec: dict[str, Any] = {
            "type": c.type,
            "lifecycle": c.lifecycle,
            "owner": self._owner(c.owner, ns, index),
            "system": self._ref("System", c.system, ns, "System", 1),
        }
        if c.provides:
            spec["providesApis"] = [self._ref("API", a, ns, "API", index % 2) for a in c.provides]
        if c.consumes:
            spec["consumesApis"] = sorted(
                self._ref("API", a, ns, "API", index % 2) for a in c.consumes
            )
        if c.depends:
            spec["dependsOn"] = sorted(
                self._ref("Component" if isinstance(t, _Component) else "Resource", t, ns, None, 1)
                for t in c.depends
            )
        return _doc("Component", metadata, spec)

    def _api_doc(self, api: _Api, index: int) -> dict[str, Any]:
        provider = api.provider
        what = _API_LABEL[api.type]
        return _doc(
            "API",
            {
                "name": api.name,
                "description": (
                    f"{_words(provider.stem).capitalize()} {what}, provided by {provider.name}."
                ),
                "tags": [_API_TAG[api.type], provider.system.unit.name],
            },
            {
                "type": api.type,
                "lifecycle": provider.lifecycle,
                "owner": self._owner(provider.owner, "default", index),
                "system": provider.system.name,
                "definition": _definition(api.type, provider.stem),
            },
        )

    def _resource_doc(self, resource: _Resource, index: int) -> dict[str, Any]:
        tech = self.rng.choice(_RESOURCE_TECH[resource.type])
        system = resource.system
        spec: dict[str, Any] = {
            "type": resource.type,
            "owner": self._owner(system.team, "default", index),
            "system": system.name,
        }
        if resource.dependency_of:
            spec["dependencyOf"] = sorted(
                self._ref("Component", c, "default", None, 1) for c in resource.dependency_of
            )
        return _doc(
            "Resource",
            {
                "name": resource.name,
                "description": f"{tech.capitalize()} {resource.type} of the {system.name} system.",
                "tags": [tech, system.unit.name],
            },
            spec,
        )


def _doc(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _links(c: _Component) -> list[dict[str, str]]:
    if c.type == "website":
        return [_link(f"https://{c.name}.{MAIL_DOMAIN}", "Website", "web")]
    if c.type == "library":
        return [_link(f"https://docs.{MAIL_DOMAIN}/libraries/{c.name}", "Docs", "docs")]
    return [
        _link(f"https://grafana.{MAIL_DOMAIN}/d/{c.name}", "Dashboard", "dashboard"),
        _link(f"https://wiki.{MAIL_DOMAIN}/runbooks/{c.name}", "Runbook", "docs"),
    ]


def _link(url: str, title: str, icon: str) -> dict[str, str]:
    return {"url": url, "title": title, "icon": icon}


def _definition(api_type: str, stem: str) -> str:
    """A short, well-formed inline definition, so API pages have something to render."""
    camel, path = _camel(stem), stem.replace("-", "")
    if api_type == "grpc":
        return (
            'syntax = "proto3";\n'
            f"package {ORG}.{path}.v1;\n\n"
            f"service {camel}Service {{\n"
            f"  rpc Get{camel} (Get{camel}Request) returns ({camel});\n"
            "}\n"
        )
    if api_type == "graphql":
        return f"type Query {{\n  {path}(id: ID!): {camel}\n}}\n\ntype {camel} {{\n  id: ID!\n}}\n"
    if api_type == "asyncapi":
        return (
            "asyncapi: 2.6.0\n"
            f"info:\n  title: {camel} events\n  version: 1.0.0\n"
            f"channels:\n  {path}.updated:\n    subscribe:\n      message:\n"
            f"        name: {camel}Updated\n"
        )
    return (
        "openapi: 3.0.3\n"
        f"info:\n  title: {camel} API\n  version: 1.0.0\n"
        f"paths:\n  /{stem}:\n    get:\n      summary: List {_words(stem)} records\n"
        "      responses:\n        '200':\n          description: OK\n"
    )


# -- YAML ------------------------------------------------------------------------------------

_RESOLVER = yaml.resolver.Resolver()
# Scalars YAML 1.2's core schema types but YAML 1.1 (PyYAML's resolver) leaves as strings.
_YAML12_TYPED = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|~|null|Null|NULL"
)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


@lru_cache(maxsize=1 << 16)
def _scalar(value: str) -> str:
    """``value`` plain when both YAML 1.1 and 1.2 read it back as this string, else quoted."""
    plain = (
        value.isprintable()
        and value[:1] not in _INDICATORS
        and value[:1] not in ("", " ")
        and value[-1] not in " :"
        and ": " not in value
        and " #" not in value
        and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"
        and not _YAML12_TYPED.fullmatch(value)
    )
    # A JSON string is a valid YAML double-quoted scalar with the same escapes.
    return value if plain else json.dumps(value, ensure_ascii=False)


def _value(value: object) -> str:
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    raise TypeError(f"cannot write {type(value).__name__} as a descriptor scalar")


def _literal_ok(text: str) -> bool:
    # `|` keeps exactly one final newline and takes its indentation from the first line.
    if not text.endswith("\n") or text.endswith("\n\n") or text[0] == " ":
        return False
    lines = text[:-1].split("\n")
    return all(line.isprintable() and (line == "" or line.strip()) for line in lines)


def _mapping(mapping: dict[str, Any], pad: str, out: list[str]) -> None:
    inner = pad + "  "
    for key, value in mapping.items():
        head = f"{pad}{_scalar(key)}:"
        if isinstance(value, str):
            if "\n" in value and _literal_ok(value):
                out.append(head + " |\n")
                out.extend(f"{inner}{line}\n" if line else "\n" for line in value[:-1].split("\n"))
            else:
                out.append(f"{head} {_scalar(value)}\n")
        elif isinstance(value, dict):
            if value:
                out.append(head + "\n")
                _mapping(value, inner, out)
            else:
                out.append(head + " {}\n")
        elif isinstance(value, list):
            if value:
                out.append(head + "\n")
                _sequence(value, inner, out)
            else:
                out.append(head + " []\n")
        else:
            out.append(f"{head} {_value(value)}\n")


def _sequence(items: list[Any], pad: str, out: list[str]) -> None:
    for item in items:
        if isinstance(item, str):
            out.append(f"{pad}- {_scalar(item)}\n")
        elif isinstance(item, dict) and item:
            start = len(out)
            _mapping(item, pad + "  ", out)
            out[start] = f"{pad}- {out[start][len(pad) + 2 :]}"
        elif isinstance(item, dict | list):
            raise TypeError("nested or empty collections in a sequence are not descriptor-shaped")
        else:
            out.append(f"{pad}- {_value(item)}\n")


def dump_documents(documents: Iterable[dict[str, Any]]) -> str:
    """Descriptor documents as one multi-document YAML stream, in key order, block style.

    Hand-formatted because PyYAML's emitter is the bottleneck at 100k entities. Strings stay
    plain only where YAML 1.1 and 1.2 both read them back unchanged; ``yaml.safe_load_all``
    of the result equals ``documents``.

    Example:
        >>> text = dump_documents([{"kind": "Group", "spec": {"owner": "no", "children": []}}])
        >>> print(text, end="")
        ---
        kind: Group
        spec:
          owner: "no"
          children: []
    """
    out: list[str] = []
    for document in documents:
        out.append("---\n")
        _mapping(document, "", out)
    return "".join(out)


# -- files -----------------------------------------------------------------------------------


def _previous_targets(out_dir: Path) -> set[str]:
    """Files an earlier run wrote here (per its ``all.yaml``), to remove the ones now unused."""
    location = out_dir / "all.yaml"
    try:
        data = yaml.safe_load(location.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return set()
    if not isinstance(data, dict) or (data.get("metadata") or {}).get("name") != ESTATE_LOCATION:
        return set()
    targets = (data.get("spec") or {}).get("targets") or []
    return {t.removeprefix("./") for t in targets if isinstance(t, str)}


def generate_estate(out_dir: Path, *, components: int = 300, seed: int = 7) -> EstateSummary:
    """Write the demo organisation's descriptors into ``out_dir``; same arguments, same bytes.

    Args:
        out_dir: created if missing; files an earlier run listed in its ``all.yaml`` and this
            run does not write are removed, anything else there is left alone.
        components: number of Component entities, at least :data:`MIN_COMPONENTS`; every
            other kind's count is derived from it.
        seed: seed of the one random generator everything is drawn from.

    Example:
        >>> summary = generate_estate(Path("/tmp/estate"))  # doctest: +SKIP
        >>> summary.counts["Component"], summary.hubs[0]  # doctest: +SKIP
        (300, 'auth-service')
    """
    if components < MIN_COMPONENTS:
        raise ValueError(f"components must be at least {MIN_COMPONENTS}, got {components}")
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _previous_targets(out_dir)
    counts: Counter[str] = Counter({"Location": 1})
    targets: list[str] = []
    # Everything allocated here stays alive until the files are written, so the cyclic
    # collector's full passes only rescan it: pausing it halves the time at 100k components.
    collecting = gc.isenabled()
    gc.disable()
    try:
        builder = _Builder(components, seed)
        builder.build()
        for relative, docs in builder.files():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_documents(docs), encoding="utf-8", newline="\n")
            counts.update(doc["kind"] for doc in docs)
            targets.append(relative)
    finally:
        if collecting:
            gc.enable()
    targets.sort()
    for stale in sorted(previous - set(targets)):
        path = out_dir / stale
        if path.resolve().is_relative_to(out_dir.resolve()):
            path.unlink(missing_ok=True)
            if path.parent != out_dir and not any(path.parent.iterdir()):
                path.parent.rmdir()
    location = _doc(
        "Location",
        {
            "name": ESTATE_LOCATION,
            "description": (
                f"The ACME demo estate ({components} components, seed {seed}), "
                "written by python -m devgraph.demo."
            ),
        },
        {"targets": [f"./{relative}" for relative in targets]},
    )
    (out_dir / "all.yaml").write_text(dump_documents([location]), encoding="utf-8", newline="\n")
    return EstateSummary(
        counts=dict(sorted(counts.items())),
        files=(out_dir / "all.yaml", *(out_dir / relative for relative in targets)),
        hubs=_HUBS,
        cycle=tuple(f"component:default/{name}" for name in _CYCLE),
        depends_on=sum(len(c.depends) for c in builder.components)
        + sum(len(r.dependency_of) for r in builder.resources),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m devgraph.demo OUT_DIR [--components N] [--seed S]``: write and summarise."""
    parser = argparse.ArgumentParser(
        prog="python -m devgraph.demo",
        description="Write a deterministic demo organisation as Backstage catalog YAML.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write (all.yaml is the entry point)")
    parser.add_argument("--components", type=int, default=300, help="number of components")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args(argv)
    if args.components < MIN_COMPONENTS:
        parser.error(f"--components must be at least {MIN_COMPONENTS}")
    started = time.perf_counter()
    summary = generate_estate(args.out_dir, components=args.components, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(summary.files)} files to {args.out_dir} in {elapsed:.1f}s")
    for kind, number in summary.counts.items():
        print(f"  {kind:<10} {number:>7}")
    print(f"  dependsOn  {summary.depends_on:>7}")
    print(f"hubs:  {', '.join(summary.hubs)}")
    print(f"cycle: {' -> '.join((*summary.cycle, summary.cycle[0]))}")
    print(f"load:  devgraph load files {summary.location}")


if __name__ == "__main__":
    main()
