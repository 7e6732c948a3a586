"""A small catalog in a real store, and FOCUS exports written the way providers write them.

Catalog: groups ``org`` > ``payments``, ``platform``; domain ``commerce`` (org) holding
system ``shop`` (payments), which holds component ``checkout`` (payments); component
``web`` (platform) annotated ``backstage.io/kubernetes-id: web-frontend``; component
``search`` (platform).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph_api.settings import CostAttribution
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import Catalog
from loaders.files import load_files

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: org}
spec: {type: organization, children: [payments, platform]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: payments}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: platform}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: commerce}
spec: {owner: org}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop}
spec: {owner: payments, domain: commerce}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout}
spec: {type: service, lifecycle: production, owner: payments, system: shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
  annotations:
    backstage.io/kubernetes-id: web-frontend
spec: {type: website, lifecycle: production, owner: platform}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: search}
spec: {type: service, lifecycle: production, owner: platform}
"""

# The FOCUS 1.0 columns in the published order, and two provider extras.
FOCUS_COLUMNS = (
    "AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingCurrency "
    "BillingPeriodEnd BillingPeriodStart ChargeCategory ChargeClass ChargeDescription "
    "ChargeFrequency ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory "
    "CommitmentDiscountId CommitmentDiscountName CommitmentDiscountStatus "
    "CommitmentDiscountType ConsumedQuantity ConsumedUnit ContractedCost ContractedUnitPrice "
    "EffectiveCost InvoiceIssuerName ListCost ListUnitPrice PricingCategory PricingQuantity "
    "PricingUnit ProviderName PublisherName RegionId RegionName ResourceId ResourceName "
    "ResourceType ServiceCategory ServiceName SkuId SkuPriceId SubAccountId SubAccountName Tags "
    "x_ServiceCode x_UsageType"
).split()


def focus_csv(rows: list[dict[str, str]]) -> str:
    """CSV text with every FOCUS column; absent values are written as empty fields."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FOCUS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in FOCUS_COLUMNS})
    return out.getvalue()


def line(
    day: str,
    billed: str,
    *,
    effective: str | None = None,
    listed: str | None = None,
    category: str = "Compute",
    service: str = "Amazon Elastic Compute Cloud",
    provider: str = "AWS",
    account: str = "111111111111",
    sub_account: str = "222222222222",
    currency: str = "USD",
    resource: str = "",
    tags: str = "",
    charge: str = "Usage",
) -> dict[str, str]:
    return {
        "ChargePeriodStart": day,
        "ChargePeriodEnd": day,
        "BillingPeriodStart": day[:8] + "01T00:00:00Z",
        "BilledCost": billed,
        "EffectiveCost": effective if effective is not None else billed,
        "ListCost": listed if listed is not None else billed,
        "ContractedCost": billed,
        "BillingCurrency": currency,
        "ServiceCategory": category,
        "ServiceName": service,
        "ProviderName": provider,
        "PublisherName": provider,
        "InvoiceIssuerName": provider,
        "BillingAccountId": account,
        "SubAccountId": sub_account,
        "ResourceId": resource,
        "Tags": tags,
        "ChargeCategory": charge,
        "ChargeDescription": "line, with a comma\nand a second line",
        "x_ServiceCode": "AmazonEC2",
    }


@pytest.fixture
async def cloud_store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    """The catalog above, loaded into a real embedded store."""
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    store = EmbeddedStore(tmp_path / "store")
    await store.open()
    (report,) = await load_files(store, [tmp_path / "catalog.yaml"])
    assert report.ok, report.rejected
    try:
        yield store
    finally:
        await store.close()


async def catalog_of(store: EmbeddedStore, **settings: object) -> Catalog:
    return await Catalog.load(store, CostAttribution(**settings))  # type: ignore[arg-type]
