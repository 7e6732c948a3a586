"""Cost and findings loaded on a hub land on the units' entities by the cross-unit rule: a
name the hub does not define itself names the one unit defining it, and is reported as
ambiguous, never guessed, when several units do."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from _peers import component, group

from federation import add_peer, sync_peers
from graph_api.model.cost import CostDimension, CostMetric
from graph_api.settings import CostAttribution, LicensePolicy
from graph_api.store import CostFilter
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import Catalog, load_focus
from loaders.findings.load import load_sbom
from tests.loaders.cloud.conftest import focus_csv, line

EVERYTHING = CostFilter(date(2000, 1, 1), date(2100, 12, 31))


async def federate(hub: EmbeddedStore, tmp_path: Path) -> None:
    """Units ``payments`` (checkout, ledger) and ``retail`` (checkout, storefront) from
    Backstage catalog exports."""
    units = {"payments": ["checkout", "ledger"], "retail": ["checkout", "storefront"]}
    for unit, names in units.items():
        export = tmp_path / f"{unit}.json"
        items = [group("team"), *(component(n) for n in names)]
        export.write_text(json.dumps({"items": items, "totalItems": len(items)}))
        await add_peer(hub, unit, kind="file", url=str(export))
    reports = await sync_peers(hub)
    assert [r.status for r in reports] == ["OK", "OK"], reports


async def test_cost_tags_name_the_one_unit_that_defines_them(
    hub: EmbeddedStore, tmp_path: Path
) -> None:
    await federate(hub, tmp_path)
    path = tmp_path / "focus.csv"
    path.write_text(
        focus_csv(
            [
                line("2026-10-01T00:00:00Z", "10.00", tags='{"service": "ledger"}'),
                line("2026-10-01T00:00:00Z", "2.50", tags='{"service": "storefront"}'),
                line("2026-10-01T00:00:00Z", "5.00", tags='{"service": "checkout"}'),
            ]
        ),
        encoding="utf-8",
    )
    catalog = await Catalog.load(hub, CostAttribution())
    (report,) = await load_focus(hub, [path], catalog)
    amounts = await hub.cost_amounts(EVERYTHING, [CostDimension.ENTITY], CostMetric.BILLED)
    assert {a.key[0]: a.amount for a in amounts} == {
        "component:payments/ledger": Decimal("10.00"),
        "component:retail/storefront": Decimal("2.50"),
        None: Decimal("5.00"),
    }
    (warning,) = report.warnings
    assert "component:default/checkout" in warning and "ambiguous" in warning
    assert "component:payments/checkout, component:retail/checkout" in warning


def sbom(name: str) -> dict[str, Any]:
    """A CycloneDX SBOM of application ``name`` with one package."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": name, "bom-ref": "app"}},
        "components": [
            {
                "bom-ref": "pkg:npm/lodash@4.17.20",
                "type": "library",
                "name": "lodash",
                "version": "4.17.20",
                "purl": "pkg:npm/lodash@4.17.20",
            }
        ],
    }


async def test_an_sbom_names_the_one_unit_that_defines_its_application(
    hub: EmbeddedStore, tmp_path: Path
) -> None:
    await federate(hub, tmp_path)
    files = []
    for name in ("ledger", "checkout"):
        files.append(tmp_path / f"{name}.cdx.json")
        files[-1].write_text(json.dumps(sbom(name)), encoding="utf-8")
    ledger, checkout = await load_sbom(hub, files, expected="cyclonedx", policy=LicensePolicy())
    assert ledger.ok and ledger.entity == "component:payments/ledger", ledger.error
    uses = await hub.package_uses(["component:payments/ledger"])
    assert [u.package.purl for u in uses["component:payments/ledger"]] == ["pkg:npm/lodash@4.17.20"]
    assert not checkout.ok
    assert "matches 2 entities" in (checkout.error or ""), checkout.error
    assert "component:payments/checkout, component:retail/checkout" in (checkout.error or "")
