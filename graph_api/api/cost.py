"""GraphQL cost: ``cost(from:, to:, metric:)`` on components, resources, systems, domains and
groups, and the root ``costReport``.

Who may see cost is decided by :class:`~graph_api.security.policy.Policy`: a denied ``cost``
field is an error with code FORBIDDEN, never an empty answer. Amounts are ``Decimal``
strings, always with their currency; different currencies are never added up. Every sum goes
through the request's :class:`~graph_api.api.context.CostAmountsLoader`, so a page of
components with their cost costs one store call per cost field asked, not one per component.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from graph_api import cost as service
from graph_api.api.context import CostKey, RequestContext
from graph_api.api.errors import BadInput, NotFound
from graph_api.model import RelationType
from graph_api.model.cost import CostDimension, CostMetric, amount_text
from graph_api.store import CostAmount, Direction, EntityRecord

Ctx = Info[RequestContext, None]
MAX_DEPTH = 30

# Amounts are decimal.Decimal; the schema serialises them as plain decimal strings (never an
# exponent, never a float) through this entry of its scalar map.
SCALARS = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number as a string, e.g. "1234.50"; never a float.',
        serialize=amount_text,
        parse_value=Decimal,
    )
}


@strawberry.enum(name="CostMetric", description="Which FOCUS amount to sum.")
class CostMetricChoice(Enum):
    EFFECTIVE = "effective"
    BILLED = "billed"
    LIST = "list"


@strawberry.enum(name="CostGranularity")
class CostGranularity(Enum):
    DAY = "day"
    MONTH = "month"


@strawberry.enum(name="CostGroupBy", description="What the rows of a cost report are.")
class CostGroupByChoice(Enum):
    TEAM = "TEAM"
    SYSTEM = "SYSTEM"
    DOMAIN = "DOMAIN"
    COMPONENT = "COMPONENT"
    SERVICE_CATEGORY = "SERVICE_CATEGORY"
    PROVIDER = "PROVIDER"
    ACCOUNT = "ACCOUNT"


@strawberry.type(description="An amount in one currency.")
class Money:
    currency: str
    amount: Decimal


@strawberry.type
class CategoryCost:
    category: str = strawberry.field(description="FOCUS ServiceCategory (Compute, Storage, ...).")
    currency: str
    amount: Decimal


@strawberry.type
class CostPoint:
    period: date = strawberry.field(description="The day, or the first day of the month.")
    currency: str
    amount: Decimal


@strawberry.type(description="This period against the previous period of the same length.")
class CostChange:
    currency: str
    current: Decimal
    previous: Decimal
    change: Decimal
    percent: Decimal | None = strawberry.field(
        description="Change in percent of the previous amount, 2 decimals; null when it was 0."
    )


@strawberry.type(description="Cost over a window: totals, categories, a series, the change.")
class Cost:
    from_: date = strawberry.field(name="from")
    to: date
    metric: CostMetricChoice
    previous_from: date = strawberry.field(description="Start of the period compared against.")
    previous_to: date
    entities: strawberry.Private[frozenset[str] | None]
    resources: strawberry.Private[frozenset[str] | None]

    async def _sums(
        self, info: Ctx, window: service.CostWindow, by: tuple[CostDimension, ...]
    ) -> list[CostAmount]:
        key = CostKey(
            window.start,
            window.end,
            CostMetric(self.metric.value),
            by,
            entities=self.entities,
            resources=self.resources,
        )
        return await info.context.cost_amounts.load(key)

    @property
    def window(self) -> service.CostWindow:
        return service.CostWindow(self.from_, self.to)

    @strawberry.field(description="Total per currency.")
    async def total(self, info: Ctx) -> list[Money]:
        found = service.totals(await self._sums(info, self.window, ()))
        return [Money(currency=c, amount=a) for c, a in found.items()]

    @strawberry.field(description="Per service category and currency, largest first.")
    async def by_category(self, info: Ctx) -> list[CategoryCost]:
        found = await self._sums(info, self.window, (CostDimension.CATEGORY,))
        ordered = sorted(found, key=lambda a: (a.currency, -a.amount, a.key[0]))
        return [
            CategoryCost(category=a.key[0], currency=a.currency, amount=a.amount) for a in ordered
        ]

    @strawberry.field(description="One point per day or month of the window and currency.")
    async def series(
        self, info: Ctx, granularity: CostGranularity = CostGranularity.MONTH
    ) -> list[CostPoint]:
        dimension = CostDimension(granularity.value)
        found = await self._sums(info, self.window, (dimension,))
        return [
            CostPoint(period=p, currency=c, amount=a)
            for p, c, a in service.filled_series(found, self.window, dimension)
        ]

    @strawberry.field(description="Per currency, against the previous period of the same length.")
    async def change(self, info: Ctx) -> list[CostChange]:
        current = service.totals(await self._sums(info, self.window, ()))
        before = service.CostWindow(self.previous_from, self.previous_to)
        previous = service.totals(await self._sums(info, before, ()))
        changes = []
        for currency in sorted(set(current) | set(previous)):
            now, then = current.get(currency, Decimal(0)), previous.get(currency, Decimal(0))
            percent = (
                ((now - then) * 100 / abs(then)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
                if then
                else None
            )
            changes.append(
                CostChange(
                    currency=currency,
                    current=now,
                    previous=then,
                    change=now - then,
                    percent=percent,
                )
            )
        return changes


async def window_of(info: Ctx, start: date | None, end: date | None) -> service.CostWindow:
    latest = await info.context.cost_amounts.latest_day() if end is None else None
    try:
        return service.CostWindow.of(start, end, latest)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


async def _reached(info: Ctx, ref: str, relation: RelationType) -> set[str]:
    found = await info.context.store.reachable(ref, relation, Direction.IN, MAX_DEPTH)
    return {r.ref for r in found}


async def _scope(
    info: Ctx, record: EntityRecord
) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """``(entities, resources)`` whose facts make up ``record``'s cost.

    Systems and teams are matched against the entities that have cost at all (one cached
    query per request) by the ``system`` and ``owner`` of their records, which is cheaper
    than walking every part or owned entity of a large catalog and gives the same facts.
    """
    kind = record.kind.lower()
    context = info.context
    if kind == "resource":
        return None, frozenset({record.ref})
    if kind == "domain":
        return frozenset({record.ref, *await _reached(info, record.ref, RelationType.PART_OF)}), None
    if kind not in ("system", "group"):
        return frozenset({record.ref}), None
    costed = await context.cost_amounts.costed()
    records = [r for r in await context.entity_by_ref.load_many(costed) if r is not None]
    if kind == "system":
        return frozenset({record.ref, *(r.ref for r in records if r.system == record.ref)}), None
    # A team's cost follows ownership: what it and every team below it owns.
    teams = {record.ref, *await _reached(info, record.ref, RelationType.CHILD_OF)}
    return frozenset(teams | {r.ref for r in records if r.owner in teams}), None


@strawberry.type
class Costed:
    """The ``cost`` field of the kinds that have cost."""

    ref: str

    @strawberry.field(
        description="Cost attributed to this entity (a system: and its parts; a domain: and "
        "its systems; a group: and what it and its child teams own). Default window: the "
        "twelve calendar months up to the latest cost loaded. Visible to the owning team, "
        "the teams above it, admins and cost roles; others get FORBIDDEN."
    )
    async def cost(
        self,
        info: Ctx,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        metric: CostMetricChoice = CostMetricChoice.EFFECTIVE,
    ) -> Cost:
        context = info.context
        record = await context.entity_by_ref.load(self.ref)
        if record is None:
            raise NotFound(f"no entity {self.ref}")
        owner = record.ref if record.kind.lower() == "group" else record.owner
        await context.policy.require_cost(context.viewer, owner, record.ref)
        window = await window_of(info, from_, to)
        previous = window.previous()
        entities, resources = await _scope(info, record)
        return Cost(
            from_=window.start,
            to=window.end,
            metric=metric,
            previous_from=previous.start,
            previous_to=previous.end,
            entities=entities,
            resources=resources,
        )


@strawberry.type
class CostReportRow:
    key: str | None = strawberry.field(
        description="The team, system, domain or component ref, category, provider or account; "
        "null for cost attributed above this level (e.g. to a team, grouping by component)."
    )
    currency: str
    amount: Decimal


@strawberry.type(description="Cost that no resource, tag, account or shared rule attributes.")
class UnallocatedCost:
    provider: str
    account: str | None
    service: str | None
    currency: str
    amount: Decimal


@strawberry.type(description="Rows (largest first) + unallocated = total, per currency.")
class CostReport:
    group_by: CostGroupByChoice
    from_: date = strawberry.field(name="from")
    to: date
    metric: CostMetricChoice
    rows: list[CostReportRow]
    unallocated: list[Money]
    unallocated_detail: list[UnallocatedCost] = strawberry.field(
        description="The unallocated line by provider, account and service."
    )
    total: list[Money]


@strawberry.type
class CostQuery:
    """Root fields of the cost domain, composed into ``Query``."""

    @strawberry.field(description="Cost across the estate, grouped. Admins and cost roles only.")
    async def cost_report(
        self,
        info: Ctx,
        group_by: CostGroupByChoice,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        metric: CostMetricChoice = CostMetricChoice.EFFECTIVE,
    ) -> CostReport:
        info.context.policy.require_cost_report(info.context.viewer)
        window = await window_of(info, from_, to)
        report = await service.cost_report(
            info.context.store,
            service.CostGroupBy(group_by.value),
            window,
            CostMetric(metric.value),
        )
        return CostReport(
            group_by=group_by,
            from_=window.start,
            to=window.end,
            metric=metric,
            rows=[
                CostReportRow(key=r.key, currency=r.currency, amount=r.amount) for r in report.rows
            ],
            unallocated=_money(report.unallocated),
            unallocated_detail=[
                UnallocatedCost(
                    provider=u.provider,
                    account=u.account,
                    service=u.service,
                    currency=u.currency,
                    amount=u.amount,
                )
                for u in report.unallocated_detail
            ],
            total=_money(report.total),
        )


def _money(amounts: dict[str, Decimal]) -> list[Money]:
    return [Money(currency=c, amount=a) for c, a in amounts.items()]
