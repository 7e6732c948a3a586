"""A small Backstage catalog written as YAML files, loaded into a real store, and helpers to
run GraphQL against it in-process.

The catalog (``CATALOG_FILES``) is the single source of truth for the expectations in
``tests/graph_api/api`` and ``tests/graph_api`` (test_app, test_export load this module):

* groups ``org`` > ``platform``, ``payments``; users ``alice`` (platform), ``bob`` (payments,
  platform, the latter written ``Group:Default/Platform``);
* domain ``commerce`` holding system ``shop``; system ``infra`` has no domain;
* components and their dependsOn: web -> checkout, auth; checkout -> orders, auth, db;
  orders -> billing, auth; billing -> invoices; invoices -> orders (the 3-cycle
  orders -> billing -> invoices); auth -> db; gateway -> auth; My-Svc -> auth; ops/cron ->
  legacy-lib (never defined). ``auth`` is the hub;
* APIs ``checkout-api`` (provided by checkout, consumed by web) and ``auth-api`` (provided
  by auth, consumed by checkout and gateway); resource ``db``;
* ``gateway`` is owned by ``ghosts``, a group no file defines; ``My-Svc`` refers to its
  dependency as ``Component:Default/AUTH`` and to its owner as ``Platform``.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from strawberry.types import ExecutionResult

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.ingest import LoadReport
from graph_api.security import Policy, Viewer
from graph_api.store import GraphStore
from loaders.files import load_files

GROUPS = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: org
  title: ACME
spec:
  type: organization
  children: [platform, payments]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
spec:
  type: team
  parent: org
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
spec:
  type: team
  parent: Org
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
spec:
  memberOf: [platform]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: bob
spec:
  memberOf: [payments, "Group:Default/Platform"]
"""

SYSTEMS = """
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: commerce
spec:
  owner: org
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: shop
spec:
  owner: payments
  domain: commerce
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: infra
spec:
  owner: platform
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: db
spec:
  type: database
  owner: platform
  system: infra
"""

APIS = """
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: checkout-api
spec:
  type: openapi
  lifecycle: production
  owner: payments
  system: shop
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: auth-api
spec:
  type: grpc
  lifecycle: production
  owner: platform
  system: infra
  definition: "syntax = \\"proto3\\";"
"""

COMPONENTS = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
  title: Web Storefront
  description: Customer-facing shop
  tags: [frontend]
spec:
  type: website
  lifecycle: production
  owner: payments
  system: shop
  dependsOn: [component:checkout, component:auth]
  consumesApis: [checkout-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  description: Takes payments
  tags: [python]
  annotations:
    github.com/project-slug: acme/checkout
    pagerduty.com/service-id: P123
spec:
  type: service
  lifecycle: production
  owner: payments
  system: shop
  dependsOn: [component:orders, component:auth, resource:db]
  providesApis: [checkout-api]
  consumesApis: [auth-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orders
spec:
  type: service
  lifecycle: production
  owner: payments
  system: shop
  dependsOn: [component:billing, component:auth]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: billing
spec:
  type: service
  lifecycle: experimental
  owner: payments
  system: shop
  dependsOn: [component:invoices]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: invoices
spec:
  type: service
  lifecycle: production
  owner: payments
  system: shop
  dependsOn: [component:orders]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: auth
  tags: [security, go]
  annotations:
    github.com/project-slug: acme/auth
spec:
  type: service
  lifecycle: production
  owner: platform
  system: infra
  dependsOn: [resource:db]
  providesApis: [auth-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: gateway
spec:
  type: service
  lifecycle: experimental
  owner: ghosts
  system: infra
  dependsOn: [component:auth]
  consumesApis: [auth-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: My-Svc
  tags: [go]
spec:
  type: library
  lifecycle: deprecated
  owner: Platform
  system: infra
  dependsOn: ["Component:Default/AUTH"]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: cron
  namespace: ops
spec:
  type: service
  lifecycle: production
  owner: group:default/platform
  dependsOn: [component:default/legacy-lib]
"""

CATALOG_FILES: dict[str, str] = {
    "org/groups.yaml": GROUPS,
    "systems.yaml": SYSTEMS,
    "apis.yaml": APIS,
    "services/components.yaml": COMPONENTS,
}


def c(name: str, namespace: str = "default") -> str:
    """Canonical component ref."""
    return f"component:{namespace}/{name}"


WEB, CHECKOUT, ORDERS, BILLING, INVOICES = (
    c("web"),
    c("checkout"),
    c("orders"),
    c("billing"),
    c("invoices"),
)
AUTH, GATEWAY, MY_SVC, CRON = c("auth"), c("gateway"), c("my-svc"), c("cron", "ops")
LEGACY_LIB = c("legacy-lib")
DB = "resource:default/db"
CHECKOUT_API, AUTH_API = "api:default/checkout-api", "api:default/auth-api"
SHOP, INFRA, COMMERCE = "system:default/shop", "system:default/infra", "domain:default/commerce"
ORG, PLATFORM, PAYMENTS = "group:default/org", "group:default/platform", "group:default/payments"
GHOSTS = "group:default/ghosts"
ALICE, BOB = "user:default/alice", "user:default/bob"

COMPONENTS_REFS = sorted([WEB, CHECKOUT, ORDERS, BILLING, INVOICES, AUTH, GATEWAY, MY_SVC, CRON])
OWNERS = {
    WEB: PAYMENTS,
    CHECKOUT: PAYMENTS,
    ORDERS: PAYMENTS,
    BILLING: PAYMENTS,
    INVOICES: PAYMENTS,
    AUTH: PLATFORM,
    GATEWAY: GHOSTS,
    MY_SVC: PLATFORM,
    CRON: PLATFORM,
    DB: PLATFORM,
}
SYSTEM_OF = {
    WEB: SHOP,
    CHECKOUT: SHOP,
    ORDERS: SHOP,
    BILLING: SHOP,
    INVOICES: SHOP,
    AUTH: INFRA,
    GATEWAY: INFRA,
    MY_SVC: INFRA,
    DB: INFRA,
}
# Every dependsOn edge the catalog declares, (dependent, dependency).
DEPENDS_ON = sorted(
    [
        (WEB, CHECKOUT),
        (WEB, AUTH),
        (CHECKOUT, ORDERS),
        (CHECKOUT, AUTH),
        (CHECKOUT, DB),
        (ORDERS, BILLING),
        (ORDERS, AUTH),
        (BILLING, INVOICES),
        (INVOICES, ORDERS),
        (AUTH, DB),
        (GATEWAY, AUTH),
        (MY_SVC, AUTH),
        (CRON, LEGACY_LIB),
    ]
)
STATS = {"API": 2, "Component": 9, "Domain": 1, "Group": 3, "Resource": 1, "System": 2, "User": 2}
ALL_DEFINED = sorted(
    [
        *COMPONENTS_REFS,
        DB,
        CHECKOUT_API,
        AUTH_API,
        SHOP,
        INFRA,
        COMMERCE,
        ORG,
        PLATFORM,
        PAYMENTS,
        ALICE,
        BOB,
    ]
)


def write_catalog(folder: Path) -> Path:
    """Write ``CATALOG_FILES`` under ``folder`` (created) and return it."""
    for name, text in CATALOG_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


async def load_catalog(store: GraphStore, folder: Path) -> LoadReport:
    """Write the catalog into ``folder`` and load it as one file source; it must load cleanly."""
    (report,) = await load_files(store, [write_catalog(folder)], fetch_remote=False)
    assert report.rejected == [], report.rejected
    assert len(report.added) == len(ALL_DEFINED)
    return report


SCHEMA = build_schema()


ADMIN = Viewer.local_admin("tester")


async def execute(
    store: GraphStore, query: str, *, viewer: Viewer | None = None, **variables: Any
) -> ExecutionResult:
    """Run ``query`` in-process with a fresh request context (fresh DataLoaders).

    The viewer defaults to a local admin, as for ``devgraph query``.
    """
    context = RequestContext(store=store, viewer=viewer or ADMIN, policy=Policy(store))
    return await SCHEMA.execute(query, variable_values=variables or None, context_value=context)


async def gql(
    store: GraphStore, query: str, *, viewer: Viewer | None = None, **variables: Any
) -> dict[str, Any]:
    """Run ``query`` and return its data, failing the test on any GraphQL error."""
    result = await execute(store, query, viewer=viewer, **variables)
    assert result.errors is None, [e.formatted for e in result.errors or []]
    assert result.data is not None
    return result.data


@dataclass
class Catalog:
    """The loaded catalog: its store, the folder it was read from, and the load report."""

    store: GraphStore
    folder: Path
    report: LoadReport

    @property
    def source(self) -> str:
        return self.report.source

    async def execute(
        self, query: str, *, viewer: Viewer | None = None, **variables: Any
    ) -> ExecutionResult:
        return await execute(self.store, query, viewer=viewer, **variables)

    async def gql(
        self, query: str, *, viewer: Viewer | None = None, **variables: Any
    ) -> dict[str, Any]:
        return await gql(self.store, query, viewer=viewer, **variables)


@pytest.fixture
async def catalog(store: GraphStore, tmp_path: Path) -> AsyncIterator[Catalog]:
    """The catalog above, loaded from real YAML files into a real, empty store."""
    folder = tmp_path / "catalog"
    report = await load_catalog(store, folder)
    yield Catalog(store=store, folder=folder, report=report)
