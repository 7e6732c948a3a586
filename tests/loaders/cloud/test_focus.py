"""FOCUS exports load as written: untidy CSV, gzip, Parquet; totals reconcile to the cent."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph_api.model.cost import CostDimension, CostMetric
from graph_api.settings import SharedCostRule
from graph_api.store import CostFilter
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import load_focus
from tests.loaders.cloud.conftest import catalog_of, focus_csv, line

EVERYTHING = CostFilter(date(2000, 1, 1), date(2100, 12, 31))
CHECKOUT, WEB, SEARCH = (f"component:default/{n}" for n in ("checkout", "web", "search"))
PLATFORM = "group:default/platform"


def untidy_export() -> str:
    """Two billing periods, the oddities real exports have, in the published layout."""
    rows = [
        line(
            "2024-01-05T00:00:00Z",
            "10.25",
            effective="9.75",
            listed="12.00",
            tags='{" Service ": "Checkout", "env": "prod"}',
        ),
        line(
            "2024-01-06 00:00:00",
            "0.0000012345",
            tags='{"user:app": "search"}',
            category="Storage",
            service="Amazon Simple Storage Service",
        ),
        line(
            "2024-01-31T23:00:00.000Z",
            "3.10",
            tags='{"backstage.io/kubernetes-id": "web-frontend"}',
        ),
        line("2024-02-01", "-4.00", charge="Credit", tags='{"SERVICE":"checkout"}'),
        line("2024-02-02T00:00:00Z", "7.77", account="333333333333", sub_account="NULL"),
        line("2024-02-03T00:00:00Z", "2.22", tags='{"component": "no-such-thing"}'),
        line(
            "2024-02-03T00:00:00Z",
            "5.00",
            service="AWS Support",
            category="Other",
            tags='{"flag": true}',
        ),
        line(
            "2024-02-04T00:00:00Z",
            "1.01",
            currency="EUR",
            provider="Microsoft",
            tags='{"app": "WEB"}',
            account="sub-a",
            sub_account="",
        ),
    ]
    return focus_csv(rows)


def independent_totals(text: str) -> dict[tuple[str, str], Decimal]:
    """Sums over the raw CSV with the csv module and decimal: (currency, column) -> amount."""
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in csv.DictReader(text.splitlines(keepends=True)):
        for column in ("BilledCost", "EffectiveCost", "ListCost"):
            found[row["BillingCurrency"].strip().upper(), column] += Decimal(row[column])
    return dict(found)


async def stored(store: EmbeddedStore, metric: CostMetric, **where: object) -> dict[str, Decimal]:
    found = await store.cost_amounts(
        CostFilter(EVERYTHING.start, EVERYTHING.end, **where),
        [],
        metric,  # type: ignore[arg-type]
    )
    return {a.currency: a.amount for a in found}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
async def test_an_untidy_export_reconciles_to_the_cent(
    cloud_store: EmbeddedStore, tmp_path: Path, suffix: str
) -> None:
    text = untidy_export()
    path = tmp_path / f"focus-2024{suffix}"
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text("\ufeff" + text, encoding="utf-8")  # with a byte-order mark
    catalog = await catalog_of(cloud_store, accounts={"333333333333": "platform"})
    (report,) = await load_focus(cloud_store, [path], catalog)
    assert report.ok and report.changed and report.lines == 8, report.errors
    expected = independent_totals(text)
    for metric, column in (
        (CostMetric.BILLED, "BilledCost"),
        (CostMetric.EFFECTIVE, "EffectiveCost"),
        (CostMetric.LIST, "ListCost"),
    ):
        total = await stored(cloud_store, metric)
        allocated = await stored(cloud_store, metric, allocated=True)
        unallocated = await stored(cloud_store, metric, allocated=False)
        for currency in ("USD", "EUR"):
            want = expected[currency, column].quantize(Decimal("0.01"))
            assert total[currency].quantize(Decimal("0.01")) == want
            both = allocated.get(currency, Decimal(0)) + unallocated.get(currency, Decimal(0))
            assert both == total[currency]
    assert report.totals["USD"]["billed"] == expected["USD", "BilledCost"]


async def test_lines_go_to_resources_tags_and_accounts_in_that_order(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "focus.csv"
    path.write_text(untidy_export(), encoding="utf-8")
    catalog = await catalog_of(cloud_store, accounts={"333333333333": "platform"})
    (report,) = await load_focus(cloud_store, [path], catalog)
    by_entity = await cloud_store.cost_amounts(
        EVERYTHING, [CostDimension.ENTITY], CostMetric.BILLED
    )
    got = {(a.key[0], a.currency): a.amount for a in by_entity}
    assert got == {
        (CHECKOUT, "USD"): Decimal("6.25"),  # " Service " and "SERVICE" name it, credit included
        (SEARCH, "USD"): Decimal("0.0000012345").quantize(Decimal("1e-9")),  # user:app
        (WEB, "USD"): Decimal("3.10"),  # via the component's kubernetes-id annotation
        (WEB, "EUR"): Decimal("1.01"),  # "WEB" names web as refs do: case-insensitively
        (PLATFORM, "USD"): Decimal("7.77"),  # account rule
        (None, "USD"): Decimal("7.22"),  # a tag naming nothing, and an untagged support line
    }
    unallocated = await cloud_store.cost_amounts(
        CostFilter(EVERYTHING.start, EVERYTHING.end, allocated=False),
        [CostDimension.PROVIDER, CostDimension.ACCOUNT, CostDimension.SERVICE],
        CostMetric.BILLED,
    )
    assert {(*a.key, a.amount) for a in unallocated} == {
        ("AWS", "222222222222", "Amazon Elastic Compute Cloud", Decimal("2.22")),
        ("AWS", "222222222222", "AWS Support", Decimal("5.00")),
    }
    assert any("component:default/no-such-thing" in w for w in report.warnings)


async def test_a_reload_writes_nothing(cloud_store: EmbeddedStore, tmp_path: Path) -> None:
    path = tmp_path / "focus.csv"
    path.write_text(untidy_export(), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    await load_focus(cloud_store, [path], catalog)
    before = await stored(cloud_store, CostMetric.BILLED)
    writes = cloud_store.writes
    (again,) = await load_focus(cloud_store, [path], await catalog_of(cloud_store))
    assert again.ok and not again.changed
    assert cloud_store.writes == writes
    assert await stored(cloud_store, CostMetric.BILLED) == before  # replaced, never doubled


async def test_parquet_gives_the_same_facts_as_csv(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    text = untidy_export()
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    utc = timezone.utc

    def moment(value: str) -> datetime:
        day = value.strip()[:10]
        return datetime.fromisoformat(day).replace(tzinfo=utc)

    money = pa.decimal128(20, 10)
    table = pa.table(
        {
            "ChargePeriodStart": pa.array(
                [moment(r["ChargePeriodStart"]) for r in rows], pa.timestamp("s", tz="UTC")
            ),
            "BilledCost": pa.array([Decimal(r["BilledCost"]) for r in rows], money),
            "EffectiveCost": pa.array([Decimal(r["EffectiveCost"]) for r in rows], money),
            "ListCost": pa.array([float(r["ListCost"]) for r in rows], pa.float64()),
            **{
                name: pa.array([r[name] or None for r in rows], pa.string())
                for name in (
                    "BillingCurrency",
                    "ServiceCategory",
                    "ServiceName",
                    "ProviderName",
                    "BillingAccountId",
                    "SubAccountId",
                    "ResourceId",
                    "Tags",
                )
            },
        }
    )
    pq.write_table(table, tmp_path / "focus.parquet")
    (tmp_path / "focus.csv").write_text(text, encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    (from_parquet,) = await load_focus(cloud_store, [tmp_path / "focus.parquet"], catalog)
    assert from_parquet.ok, from_parquet.errors
    parquet_totals = await stored(cloud_store, CostMetric.LIST)
    (from_csv,) = await load_focus(cloud_store, [tmp_path / "focus.csv"], catalog)
    assert from_parquet.totals == from_csv.totals
    both = await stored(cloud_store, CostMetric.LIST)
    assert both == {c: 2 * a for c, a in parquet_totals.items()}


async def test_a_missing_column_is_named_and_nothing_is_written(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "focus.csv"
    path.write_text(untidy_export(), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    await load_focus(cloud_store, [path], catalog)
    before = await stored(cloud_store, CostMetric.BILLED)
    lines = untidy_export().splitlines()
    header = lines[0].split(",")
    drop = header.index("EffectiveCost")
    cut = [",".join(c for i, c in enumerate(header) if i != drop)]
    path.write_text("\n".join(cut + lines[1:2]) + "\n", encoding="utf-8")
    (report,) = await load_focus(cloud_store, [path], catalog)
    assert not report.ok and not report.changed
    assert report.errors == [f"{path}: missing required FOCUS column EffectiveCost"]
    assert await stored(cloud_store, CostMetric.BILLED) == before


async def test_a_bad_row_is_reported_by_line_and_the_previous_cost_stays(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "focus.csv"
    catalog = await catalog_of(cloud_store)
    path.write_text(focus_csv([line("2024-03-01T00:00:00Z", "1.50")]), encoding="utf-8")
    await load_focus(cloud_store, [path], catalog)
    rows = [
        line("2024-03-01T00:00:00Z", "2.50"),
        line("2024-03-02T00:00:00Z", "1,50", effective="1.5", listed="1.5"),
        line("2024-03-03T10:00:00+02:00", "1"),
    ]
    path.write_text(focus_csv(rows).replace("\nand a second line", " and more"), encoding="utf-8")
    (report,) = await load_focus(cloud_store, [path], catalog)
    assert report.errors == [
        f"{path}: line 4: ChargePeriodStart is not an ISO 8601 date/time in UTC",
        f"{path}: line 3: BilledCost '1,50' is not a number",
    ]
    assert await stored(cloud_store, CostMetric.BILLED) == {"USD": Decimal("1.5")}


async def test_shared_cost_rules_split_what_is_left_and_totals_still_reconcile(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "focus.csv"
    path.write_text(untidy_export(), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    rules = [
        SharedCostRule(service="aws support", split="proportional"),
        SharedCostRule(provider="AWS", split="even", targets=["checkout", "search", "web"]),
    ]
    (report,) = await load_focus(cloud_store, [path], catalog, rules)
    assert report.ok
    by_entity = {
        (a.key[0], a.currency): a.amount
        for a in await cloud_store.cost_amounts(
            EVERYTHING, [CostDimension.ENTITY], CostMetric.BILLED
        )
    }
    # 5.00 of support: in proportion to direct USD cost (checkout 6.25, web 3.10, search ~0).
    direct = {CHECKOUT: Decimal("6.25"), WEB: Decimal("3.10"), SEARCH: Decimal("0.000001235")}
    weight = sum(direct.values())
    # What is left of AWS (2.22 naming nothing, 7.77 of an unassigned account): evenly.
    for ref, own in direct.items():
        share = Decimal(5) * own / weight + Decimal("3.33")
        assert abs(by_entity[ref, "USD"] - own - share) < Decimal("0.000001")
    assert (None, "USD") not in by_entity
    total = sum(v for (_, c), v in by_entity.items() if c == "USD")
    cent = Decimal("0.01")
    assert total.quantize(cent) == independent_totals(untidy_export())[
        "USD", "BilledCost"
    ].quantize(cent)
