"""The cost part of the store contract: both stores keep, replace and sum facts alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from graph_api.model import parse_entity
from graph_api.model.cost import CostDimension, CostFact, CostMetric, cost_fact_table, facts_hash
from graph_api.store import (
    ChangeSet,
    CostFilter,
    CostSet,
    GraphStore,
    PlacedEntity,
    SourceFacts,
    StoreError,
)

CHECKOUT = "component:default/checkout"
PAYMENTS = "component:default/payments"
BUCKET = "resource:default/orders-bucket"
YEAR = CostFilter(date(2024, 1, 1), date(2024, 12, 31))


def fact(day: date, amount: str, entity: str | None = CHECKOUT, **keys: str | None) -> CostFact:
    value = Decimal(amount)
    fields: dict[str, object] = {"category": "Compute", "provider": "AWS", "currency": "USD"}
    fields.update(keys)
    return CostFact(
        day=day,
        billed=value,
        effective=value / 2,
        list=value * 2,
        entity=entity,
        **fields,  # type: ignore[arg-type]
    )


def cost_change(source: str, *facts: CostFact, lines: int | None = None) -> ChangeSet:
    table = cost_fact_table(facts)
    cost = CostSet(table, facts_hash(table), len(facts) if lines is None else lines)
    return ChangeSet(source=source, facts=SourceFacts(cost=cost))


FACTS = (
    fact(date(2024, 1, 1), "10.123456789", resource=BUCKET, account="111"),
    fact(date(2024, 1, 31), "0.000000001", account="111"),
    # A credit counts as it is: negative.
    fact(date(2024, 2, 3), "-2.5", category="Storage", account="111"),
    fact(date(2024, 2, 3), "7", entity=PAYMENTS, provider="Microsoft", account="sub-1"),
    fact(date(2024, 3, 9), "4.25", entity=None, account="222", service="AWS Support"),
    fact(date(2024, 3, 9), "1", entity=None, currency="EUR", account="222", service="Amazon S3"),
)


def amounts(found: list, metric_scale: Decimal = Decimal(1)) -> dict[tuple, Decimal]:
    return {(*a.key, a.currency): a.amount for a in found}


async def test_facts_are_kept_with_their_source_record_and_span(store: GraphStore) -> None:
    assert await store.cost_source("focus:a.csv") is None and await store.cost_span() is None
    change = cost_change("focus:a.csv", *FACTS, lines=42)
    await store.apply(change)
    record = await store.cost_source("focus:a.csv")
    assert record is not None
    assert (record.source, record.lines, record.facts) == ("focus:a.csv", 42, len(FACTS))
    assert record.hash == change.facts.cost.hash  # type: ignore[union-attr]
    assert (record.first_day, record.last_day) == (date(2024, 1, 1), date(2024, 3, 9))
    assert await store.cost_span() == (date(2024, 1, 1), date(2024, 3, 9))


async def test_sums_are_exact_per_currency_and_metric(store: GraphStore) -> None:
    await store.apply(cost_change("focus:a.csv", *FACTS))
    billed = amounts(await store.cost_amounts(YEAR, [], CostMetric.BILLED))
    assert billed == {
        ("USD",): Decimal("10.123456789")
        + Decimal("0.000000001")
        - Decimal("2.5")
        + 7
        + Decimal("4.25"),
        ("EUR",): Decimal(1),
    }
    effective = amounts(await store.cost_amounts(YEAR, [], CostMetric.EFFECTIVE))
    # Halves of 10.123456789 and 0.000000001 are rounded (half-even) to nano-units.
    assert effective[("USD",)] == Decimal("5.061728394") + Decimal("0.000000000") + Decimal(
        "-1.25"
    ) + Decimal("3.5") + Decimal("2.125")
    listed = amounts(await store.cost_amounts(YEAR, [], CostMetric.LIST))
    assert listed[("EUR",)] == Decimal(2)


async def test_groups_by_every_dimension(store: GraphStore) -> None:
    await store.apply(cost_change("focus:a.csv", *FACTS))
    by_entity = amounts(await store.cost_amounts(YEAR, [CostDimension.ENTITY], CostMetric.BILLED))
    assert by_entity == {
        (CHECKOUT, "USD"): Decimal("7.623456790"),
        (PAYMENTS, "USD"): Decimal(7),
        (None, "USD"): Decimal("4.25"),
        (None, "EUR"): Decimal(1),
    }
    by_month = amounts(await store.cost_amounts(YEAR, [CostDimension.MONTH], CostMetric.BILLED))
    assert by_month[(date(2024, 1, 1), "USD")] == Decimal("10.123456790")
    assert by_month[(date(2024, 2, 1), "USD")] == Decimal("4.5")
    by_day = amounts(
        await store.cost_amounts(
            YEAR, [CostDimension.DAY, CostDimension.CATEGORY], CostMetric.BILLED
        )
    )
    assert by_day[(date(2024, 2, 3), "Storage", "USD")] == Decimal("-2.5")
    assert by_day[(date(2024, 2, 3), "Compute", "USD")] == Decimal(7)
    unallocated = amounts(
        await store.cost_amounts(
            CostFilter(date(2024, 1, 1), date(2024, 12, 31), allocated=False),
            [CostDimension.PROVIDER, CostDimension.ACCOUNT, CostDimension.SERVICE],
            CostMetric.BILLED,
        )
    )
    assert unallocated == {
        ("AWS", "222", "AWS Support", "USD"): Decimal("4.25"),
        ("AWS", "222", "Amazon S3", "EUR"): Decimal(1),
    }
    by_resource = amounts(
        await store.cost_amounts(
            CostFilter(YEAR.start, YEAR.end, resources=[BUCKET]), [], CostMetric.BILLED
        )
    )
    assert by_resource == {("USD",): Decimal("10.123456789")}


async def test_whole_months_and_odd_days_agree(store: GraphStore) -> None:
    """Whole months read the monthly rollup, other ranges the daily facts: same sums."""
    await store.apply(cost_change("focus:a.csv", *FACTS))
    january = CostFilter(date(2024, 1, 1), date(2024, 1, 31), entities=[CHECKOUT])
    whole = await store.cost_amounts(january, [CostDimension.MONTH], CostMetric.BILLED)
    daily = await store.cost_amounts(january, [CostDimension.DAY], CostMetric.BILLED)
    assert [a.amount for a in whole] == [sum(a.amount for a in daily)] == [Decimal("10.12345679")]
    inner = CostFilter(date(2024, 1, 2), date(2024, 2, 29), entities=[CHECKOUT])
    assert amounts(await store.cost_amounts(inner, [], CostMetric.BILLED)) == {
        ("USD",): Decimal("-2.499999999")
    }
    allocated = CostFilter(date(2024, 3, 1), date(2024, 3, 31), allocated=True)
    assert await store.cost_amounts(allocated, [], CostMetric.BILLED) == []


async def test_large_amounts_sum_without_overflow(store: GraphStore) -> None:
    # Three purchases of 5 billion: 15e18 nano-units would overflow one signed 64-bit integer.
    purchases = [fact(date(2024, 5, day), "5000000000.000000007") for day in (1, 2, 3)]
    await store.apply(cost_change("focus:big.csv", *purchases))
    total = amounts(await store.cost_amounts(YEAR, [], CostMetric.LIST))
    assert total == {("USD",): Decimal("30000000000.000000042")}


async def test_a_source_replaces_only_what_it_gave(store: GraphStore) -> None:
    await store.apply(cost_change("focus:a.csv", *FACTS))
    await store.apply(cost_change("focus:b.csv", fact(date(2024, 6, 1), "100")))
    await store.apply(cost_change("focus:a.csv", fact(date(2024, 1, 1), "1")))
    total = amounts(await store.cost_amounts(YEAR, [], CostMetric.BILLED))
    assert total == {("USD",): Decimal(101)}
    record = await store.cost_source("focus:a.csv")
    assert record is not None and record.facts == 1
    await store.apply(cost_change("focus:a.csv"))
    assert amounts(await store.cost_amounts(YEAR, [], CostMetric.BILLED)) == {
        ("USD",): Decimal(100)
    }
    assert await store.cost_span() == (date(2024, 6, 1), date(2024, 6, 1))


def component(name: str) -> PlacedEntity:
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    return PlacedEntity(parse_entity(document), f"{name}.yaml:1")


async def test_cost_is_written_in_the_same_transaction_as_the_change(store: GraphStore) -> None:
    await store.apply(cost_change("focus:a.csv", *FACTS))
    failing = cost_change("focus:a.csv", fact(date(2024, 1, 1), "999"))
    # The same new ref twice fails the whole change on the key, cost included.
    failing.upserts = [component("twice"), component("twice")]
    with pytest.raises(StoreError):
        await store.apply(failing)
    assert (await store.get_entities(["component:default/twice"])) == [None]
    total = amounts(await store.cost_amounts(YEAR, [], CostMetric.BILLED))
    assert total[("USD",)] == Decimal("18.873456790")
    together = cost_change("focus:c.csv", fact(date(2024, 1, 1), "1"))
    together.upserts = [component("checkout")]
    await store.apply(together)
    record = (await store.get_entities([CHECKOUT]))[0]
    assert record is not None and record.source == "focus:c.csv"
    assert await store.cost_source("focus:c.csv") is not None
