"""Cost questions over the store: time windows, series with gaps filled, and the report.

Shared by the GraphQL API and the CLI. Currencies are never summed together: every amount
comes with its currency, and totals are per currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from graph_api.model.cost import CostDimension, CostMetric
from graph_api.store import CostAmount, CostFilter, EntityRecord, GraphStore

WINDOW_MONTHS = 12


class CostGroupBy(str, Enum):
    """What a cost report's rows are."""

    TEAM = "TEAM"
    SYSTEM = "SYSTEM"
    DOMAIN = "DOMAIN"
    COMPONENT = "COMPONENT"
    SERVICE_CATEGORY = "SERVICE_CATEGORY"
    PROVIDER = "PROVIDER"
    ACCOUNT = "ACCOUNT"


FACT_GROUPS = {
    CostGroupBy.SERVICE_CATEGORY: CostDimension.CATEGORY,
    CostGroupBy.PROVIDER: CostDimension.PROVIDER,
    CostGroupBy.ACCOUNT: CostDimension.ACCOUNT,
}


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _month_start(day, -1) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CostWindow:
    """Days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def of(cls, start: date | None, end: date | None, latest: date | None) -> CostWindow:
        """The asked window; by default the twelve calendar months up to the latest cost.

        Raises:
            ValueError: ``start`` is after ``end``.
        """
        if end is None:
            end = _month_end(latest or date.today())
        if start is None:
            start = _month_start(end, WINDOW_MONTHS - 1)
        if start > end:
            raise ValueError(f"from ({start}) is after to ({end})")
        return cls(start, end)

    @property
    def whole_months(self) -> bool:
        return self.start.day == 1 and (self.end + timedelta(days=1)).day == 1

    def previous(self) -> CostWindow:
        """The period of the same length just before: as many whole months, else days."""
        if self.whole_months:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            return CostWindow(_month_start(self.start, months), self.start - timedelta(days=1))
        days = (self.end - self.start).days + 1
        return CostWindow(self.start - timedelta(days=days), self.start - timedelta(days=1))

    def periods(self, dimension: CostDimension) -> list[date]:
        """Every day, or the first day of every month, in the window."""
        found = []
        if dimension is CostDimension.DAY:
            day = self.start
            while day <= self.end:
                found.append(day)
                day += timedelta(days=1)
            return found
        month = _month_start(self.start)
        while month <= self.end:
            found.append(month)
            month = _month_start(month, -1)
        return found

    def filter(self, **criteria: object) -> CostFilter:
        return CostFilter(self.start, self.end, **criteria)  # type: ignore[arg-type]


def totals(amounts: Iterable[CostAmount]) -> dict[str, Decimal]:
    """Sum per currency, in currency order."""
    found: dict[str, Decimal] = defaultdict(Decimal)
    for amount in amounts:
        found[amount.currency] += amount.amount
    return dict(sorted(found.items()))


def filled_series(
    amounts: Sequence[CostAmount], window: CostWindow, dimension: CostDimension
) -> list[tuple[date, str, Decimal]]:
    """``(period, currency, amount)`` for every period of the window and every currency seen,
    zero where nothing was spent, so a chart has no holes."""
    found = {(a.key[0], a.currency): a.amount for a in amounts}
    currencies = sorted({a.currency for a in amounts})
    return [
        (period, currency, found.get((period, currency), Decimal(0)))
        for period in window.periods(dimension)
        for currency in currencies
    ]


@dataclass(slots=True)
class ReportRow:
    key: str | None
    currency: str
    amount: Decimal


@dataclass(slots=True)
class UnallocatedRow:
    provider: str
    account: str | None
    service: str | None
    currency: str
    amount: Decimal


@dataclass(slots=True)
class CostReport:
    """Allocated cost in rows, the unallocated line, and the total: rows + unallocated."""

    group_by: CostGroupBy
    window: CostWindow
    metric: CostMetric
    rows: list[ReportRow] = field(default_factory=list)
    unallocated: dict[str, Decimal] = field(default_factory=dict)
    unallocated_detail: list[UnallocatedRow] = field(default_factory=list)
    total: dict[str, Decimal] = field(default_factory=dict)


async def cost_report(
    store: GraphStore, group_by: CostGroupBy, window: CostWindow, metric: CostMetric
) -> CostReport:
    """Cost per team, system, domain, component, category, provider or account.

    Each fact counts once, for the entity it is attributed to: a team's row holds what it owns
    directly (its child teams have rows of their own). Rows are ordered by amount, largest
    first; a row's key is None for cost attributed above that level (to a team when grouping
    by component, say).
    """
    report = CostReport(group_by, window, metric)
    dimension = FACT_GROUPS.get(group_by, CostDimension.ENTITY)
    allocated = await store.cost_amounts(window.filter(allocated=True), [dimension], metric)
    if dimension is CostDimension.ENTITY:
        keys = await _group_keys(store, [a.key[0] for a in allocated], group_by)
    else:
        keys = {a.key[0]: a.key[0] for a in allocated}
    summed: dict[tuple[str | None, str], Decimal] = defaultdict(Decimal)
    for amount in allocated:
        summed[keys[amount.key[0]], amount.currency] += amount.amount
    report.rows = sorted(
        (ReportRow(key, currency, amount) for (key, currency), amount in summed.items()),
        key=lambda row: (-row.amount, row.currency, row.key is None, row.key or ""),
    )
    detail = await store.cost_amounts(
        window.filter(allocated=False),
        [CostDimension.PROVIDER, CostDimension.ACCOUNT, CostDimension.SERVICE],
        metric,
    )
    report.unallocated_detail = sorted(
        (UnallocatedRow(*a.key, a.currency, a.amount) for a in detail),
        key=lambda row: (-row.amount, row.provider, row.account or "", row.service or ""),
    )
    report.unallocated = totals(detail)
    everything: dict[str, Decimal] = defaultdict(Decimal, report.unallocated)
    for row in report.rows:
        everything[row.currency] += row.amount
    report.total = dict(sorted(everything.items()))
    return report


async def _group_keys(
    store: GraphStore, refs: list[str], group_by: CostGroupBy
) -> dict[str, str | None]:
    """The team, system, domain or component each attributed entity counts for."""
    distinct = sorted(set(refs))
    records = dict(zip(distinct, await store.get_entities(distinct), strict=True))
    systems: dict[str, EntityRecord | None] = {}
    if group_by is CostGroupBy.DOMAIN:
        wanted = sorted({r.system for r in records.values() if r is not None and r.system})
        systems = dict(zip(wanted, await store.get_entities(wanted), strict=True))
    return {ref: _key(ref, records[ref], group_by, systems) for ref in distinct}


def _key(
    ref: str,
    record: EntityRecord | None,
    group_by: CostGroupBy,
    systems: dict[str, EntityRecord | None],
) -> str | None:
    kind = ref.split(":", 1)[0]
    if group_by is CostGroupBy.COMPONENT:
        return ref if kind == "component" else None
    if group_by is CostGroupBy.TEAM:
        return ref if kind in ("group", "user") else record.owner if record else None
    if group_by is CostGroupBy.SYSTEM:
        return ref if kind == "system" else record.system if record else None
    if kind == "domain":
        return ref
    if kind == "system":
        return record.domain if record else None
    system = systems.get(record.system) if record and record.system else None
    return system.domain if system else None


async def monthly_by_group(
    store: GraphStore, group_by: CostGroupBy, window: CostWindow, metric: CostMetric
) -> dict[tuple[str | None, str], dict[date, Decimal]]:
    """Allocated cost per report key and currency, month by month (for trend charts)."""
    dimension = FACT_GROUPS.get(group_by, CostDimension.ENTITY)
    found = await store.cost_amounts(
        window.filter(allocated=True), [dimension, CostDimension.MONTH], metric
    )
    if dimension is CostDimension.ENTITY:
        keys = await _group_keys(store, [a.key[0] for a in found], group_by)
    else:
        keys = {a.key[0]: a.key[0] for a in found}
    series: dict[tuple[str | None, str], dict[date, Decimal]] = defaultdict(
        lambda: dict.fromkeys(window.periods(CostDimension.MONTH), Decimal(0))
    )
    for amount in found:
        series[keys[amount.key[0]], amount.currency][amount.key[1]] += amount.amount
    return dict(series)
