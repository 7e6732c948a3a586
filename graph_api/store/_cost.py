"""Cost rows and query text both stores share: monthly rollups, amounts, fixed fragments.

Facts are kept twice: per day (``CostFact``) and per month (``CostMonth``, the same keys with
the day truncated). A query over whole months with no daily breakdown reads the monthly
table, about 30 times smaller; anything else reads the daily one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graph_api.model.cost import (
    AMOUNT_COLUMNS,
    COST_FACT_SCHEMA,
    COST_KEYS,
    CostDimension,
    CostMetric,
    from_parts,
)
from graph_api.store.port import CostAmount, CostFilter

FACT_COLUMNS: tuple[str, ...] = ("source", *COST_FACT_SCHEMA.names)
MONTH_KEYS: tuple[str, ...] = tuple("month" if k == "day" else k for k in COST_KEYS)
MONTH_COLUMNS: tuple[str, ...] = ("source", *MONTH_KEYS, *AMOUNT_COLUMNS)

# Key expressions valid in both dialects; the month of a daily fact is dialect-specific.
_KEY_EXPRESSIONS: dict[CostDimension, str] = {
    CostDimension.ENTITY: "f.entity",
    CostDimension.RESOURCE: "f.resource",
    CostDimension.CATEGORY: "f.category",
    CostDimension.PROVIDER: "f.provider",
    CostDimension.ACCOUNT: "f.account",
    CostDimension.SERVICE: "f.service",
    CostDimension.DAY: "f.day",
}
_FILTERS = {
    "entities": "f.entity IN $entities",
    "resources": "f.resource IN $resources",
    "allocated": "f.entity IS NOT NULL",
    "unallocated": "f.entity IS NULL",
}


def with_source(facts: pa.Table, source: str) -> pa.Table:
    """The fact table with its source key as the first column, in ``FACT_COLUMNS`` order."""
    facts = facts.select(COST_FACT_SCHEMA.names).cast(COST_FACT_SCHEMA)
    return facts.add_column(0, "source", pa.array([source] * facts.num_rows, pa.string()))


def month_rollup(facts: pa.Table) -> pa.Table:
    """Daily facts (with ``source``) summed per month, in ``MONTH_COLUMNS`` order."""
    months = facts.set_column(
        facts.schema.get_field_index("day"), "month", pc.floor_temporal(facts["day"], unit="month")
    )
    keys = ["source", *MONTH_KEYS]
    summed = months.group_by(keys, use_threads=False).aggregate(
        [(column, "sum") for column in AMOUNT_COLUMNS]
    )
    return summed.rename_columns([*keys, *AMOUNT_COLUMNS]).select(list(MONTH_COLUMNS))


def source_span(facts: pa.Table) -> tuple[date | None, date | None]:
    if facts.num_rows == 0:
        return None, None
    bounds = pc.min_max(facts["day"]).as_py()
    return bounds["min"], bounds["max"]


def whole_months(where: CostFilter) -> bool:
    """True when the filter's days are exactly whole calendar months."""
    return where.start.day == 1 and (where.end + timedelta(days=1)).day == 1


def uses_months(where: CostFilter, by: Sequence[CostDimension]) -> bool:
    return CostDimension.DAY not in by and whole_months(where)


def amount_query(
    where: CostFilter,
    by: Sequence[CostDimension],
    metric: CostMetric,
    *,
    fact_month: str,
) -> tuple[str, dict[str, Any]]:
    """Statement text (fixed fragments only) and parameters of a grouped cost sum.

    Args:
        fact_month: the dialect's expression for the month of ``f.day``.
    """
    monthly = uses_months(where, by)
    table, time = ("CostMonth", "f.month") if monthly else ("CostFact", "f.day")
    expressions = {**_KEY_EXPRESSIONS, CostDimension.MONTH: "f.month" if monthly else fact_month}
    start = where.start.replace(day=1) if monthly else where.start
    end = where.end.replace(day=1) if monthly else where.end
    # `end` is a keyword in Ladybug's parser, so the bounds are named since/until.
    clauses = [f"{time} >= $since", f"{time} <= $until"]
    params: dict[str, Any] = {"since": start, "until": end}
    if where.entities is not None:
        clauses.append(_FILTERS["entities"])
        params["entities"] = list(where.entities)
    if where.resources is not None:
        clauses.append(_FILTERS["resources"])
        params["resources"] = list(where.resources)
    if where.allocated is not None:
        clauses.append(_FILTERS["allocated" if where.allocated else "unallocated"])
    keys = "".join(f"{expressions[d]} AS k{i}, " for i, d in enumerate(by))
    metric_name = CostMetric(metric).value
    query = (
        f"MATCH (f:{table}) WHERE {' AND '.join(clauses)} "
        f"RETURN {keys}f.currency AS currency, sum(f.{metric_name}_units) AS units, "
        f"sum(f.{metric_name}_nanos) AS nanos"
    )
    return query, params


def amounts_from_rows(rows: Sequence[Sequence[Any]], width: int) -> list[CostAmount]:
    """``CostAmount`` per row of ``amount_query``; dates from either driver become ``date``."""
    found = []
    for row in rows:
        key = tuple(_native(value) for value in row[:width])
        currency, units, nanos = row[width:]
        found.append(CostAmount(key=key, currency=currency, amount=from_parts(units, nanos)))
    return found


def _native(value: Any) -> Any:
    # The Neo4j driver returns its own Date type; both stores answer with datetime.date.
    to_native = getattr(value, "to_native", None)
    return to_native() if to_native is not None else value


def sum_amounts(amounts: Iterable[CostAmount]) -> list[CostAmount]:
    """Amounts keyed by an entity first, summed over it: the entity is dropped from the key."""
    summed: dict[tuple[tuple[Any, ...], str], Decimal] = {}
    for amount in amounts:
        key = (amount.key[1:], amount.currency)
        summed[key] = summed.get(key, Decimal(0)) + amount.amount
    return [CostAmount(key, currency, total) for (key, currency), total in summed.items()]
