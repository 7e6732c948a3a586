"""The cost pipeline every cost loader shares: attribute lines, sum them into facts, apply.

Readers (FOCUS, OpenCost) hand over batches of lines in :data:`LINE_SCHEMA`. Each line is
attributed, in this order: to what the catalogued resource with its ResourceId is tied to;
to the entity its tags or labels name; to the team its account is assigned to in the config
file. Shared-cost rules then split what is left and matches them. Everything else stays
unallocated, by provider, account and service: never dropped, never spread silently.

Work is column-wise (pyarrow): a tag set or resource id is resolved once per distinct value,
and each batch is summed at once, so memory follows the number of facts, not of lines.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from graph_api.ingest import audit_event
from graph_api.model import RefError, normalize_ref
from graph_api.model.cost import (
    COST_FACT_SCHEMA,
    COST_KEYS,
    CostMetric,
    amount_text,
    facts_hash,
    from_parts,
    to_parts,
)
from graph_api.settings import SharedCostRule
from graph_api.store import ChangeSet, CostSet, EntityChange, GraphStore, SourceFacts
from loaders.cloud.attribution import Catalog, parse_tags

DECIMAL = pa.decimal128(38, 18)
METRICS = tuple(m.value for m in CostMetric)
LINE_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("currency", pa.string()),
        ("category", pa.string()),
        ("provider", pa.string()),
        ("billing_account", pa.string()),
        ("sub_account", pa.string()),
        ("service", pa.string()),
        ("resource_id", pa.string()),
        ("tags", pa.string()),
        *((metric, DECIMAL) for metric in METRICS),
    ]
)
_FACT_KEYS = list(COST_KEYS)
# Partial sums are merged once they hold this many rows, or twice the rows of the last merge
# when the facts outgrow that: memory stays within about twice the facts plus one batch, and
# merging stays linear in the lines however many batches there are.
_MERGE_ROWS = 1 << 16
_CACHE_LIMIT = 200_000
_SCALE = Decimal(1).scaleb(-18)


class CostFileError(ValueError):
    """A cost file that is not loaded at all; ``problems`` name the file, line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(slots=True)
class CostLoadReport:
    """What loading one cost source did, with the totals to reconcile it by."""

    source: str
    lines: int = 0
    facts: int = 0
    changed: bool = False
    # currency -> metric -> amount, over every line of the source
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # currency -> EffectiveCost nobody was given
    unallocated: dict[str, Decimal] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "lines": self.lines,
            "facts": self.facts,
            "changed": self.changed,
            "totals": {
                currency: {metric: amount_text(v) for metric, v in amounts.items()}
                for currency, amounts in sorted(self.totals.items())
            },
            "unallocated": {c: amount_text(v) for c, v in sorted(self.unallocated.items())},
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }


def _mapped(column: pa.Array, values: list[str | None]) -> pa.Array:
    """``values`` (one per distinct value of the dictionary-encoded column) spread to rows."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    return pa.array(values, pa.string()).take(encoded.indices)


class CostAggregator:
    """Attributes lines batch by batch and sums them into facts.

    Args:
        catalog: what attribution reads from the catalog.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lines = 0
        self.totals: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: dict.fromkeys(METRICS, Decimal(0))
        )
        self._partials: list[pa.Table] = []
        self._partial_rows = 0
        self._merged_rows = 0
        self._tag_entity: dict[str, str | None] = {}

    async def add(self, lines: pa.Table) -> None:
        """Attribute and sum one batch of lines in :data:`LINE_SCHEMA`."""
        lines = lines.combine_chunks()
        if lines.num_rows == 0:
            return
        self.lines += lines.num_rows
        by_currency = lines.group_by("currency", use_threads=False).aggregate(
            [(metric, "sum") for metric in METRICS]
        )
        for row in by_currency.to_pylist():
            totals = self.totals[row["currency"]]
            for metric in METRICS:
                totals[metric] += row[f"{metric}_sum"]
        resource_ids = lines["resource_id"].chunk(0)
        encoded = pc.dictionary_encode(resource_ids)
        ties = [
            self.catalog.resources.get(v.casefold()) if v is not None else None
            for v in encoded.dictionary.to_pylist()
        ]
        resource = _mapped(encoded, [t.resource if t else None for t in ties])
        resource_entity = _mapped(encoded, [t.entity if t else None for t in ties])
        tag_entity = await self._tag_entities(lines["tags"].chunk(0))
        account = pc.coalesce(lines["sub_account"], lines["billing_account"]).combine_chunks()
        encoded_accounts = pc.dictionary_encode(account)
        account_entity = _mapped(
            encoded_accounts,
            [self.catalog.account_team(a) for a in encoded_accounts.dictionary.to_pylist()],
        )
        entity = pc.coalesce(resource_entity, tag_entity, account_entity)
        keyed = pa.table(
            {
                "day": lines["day"],
                "entity": entity,
                "resource": resource,
                "category": lines["category"],
                "provider": lines["provider"],
                "account": account,
                # The service is kept only where it tells unallocated cost apart.
                "service": pc.if_else(
                    pc.is_null(entity), lines["service"], pa.scalar(None, pa.string())
                ),
                "currency": lines["currency"],
                **{metric: lines[metric] for metric in METRICS},
            }
        )
        self._keep(_sum(keyed))

    async def _tag_entities(self, tags: pa.Array) -> pa.Array:
        encoded = pc.dictionary_encode(tags)
        texts = encoded.dictionary.to_pylist()
        unseen = [t for t in texts if t is not None and t not in self._tag_entity]
        if len(self._tag_entity) + len(unseen) > _CACHE_LIMIT:
            self._tag_entity.clear()  # a file of all-distinct tags must not grow memory
        keys = self.catalog.keys
        chosen = await self.catalog.entity_for([keys.candidates(parse_tags(t)) for t in unseen])
        self._tag_entity.update(zip(unseen, chosen, strict=True))
        return _mapped(encoded, [self._tag_entity[t] if t is not None else None for t in texts])

    def _keep(self, summed: pa.Table) -> None:
        self._partials.append(summed)
        self._partial_rows += summed.num_rows
        if self._partial_rows > max(_MERGE_ROWS, 2 * self._merged_rows):
            merged = _sum(pa.concat_tables(self._partials))
            self._partials = [merged]
            self._partial_rows = self._merged_rows = merged.num_rows

    async def facts(self, rules: Sequence[SharedCostRule] = ()) -> tuple[pa.Table, list[str]]:
        """The facts in :data:`COST_FACT_SCHEMA` after shared-cost rules, and warnings."""
        summed = _sum(pa.concat_tables(self._partials)) if self._partials else _empty()
        # The partial sums are up to twice the facts: drop them before the facts are written.
        self._partials = [summed]
        self._partial_rows = self._merged_rows = summed.num_rows
        warnings = self.catalog.warnings()
        for index, rule in enumerate(rules):
            summed, problem = await self._share(summed, rule)
            if problem:
                warnings.append(f"shared-cost rule {index + 1}: {problem}")
        return _fact_table(summed), warnings

    async def _share(self, summed: pa.Table, rule: SharedCostRule) -> tuple[pa.Table, str | None]:
        """Split the unallocated facts ``rule`` matches among its targets."""
        mask = pc.is_null(summed["entity"])
        for name in ("provider", "account", "service", "category"):
            wanted = getattr(rule, name)
            if wanted is not None:
                values = pc.utf8_lower(pc.fill_null(summed[name], ""))
                mask = pc.and_(mask, pc.equal(values, wanted.strip().lower()))
        matched = summed.filter(mask)
        if matched.num_rows == 0:
            return summed, None
        direct = summed.filter(pc.is_valid(summed["entity"]))
        targets: list[str] | None = None
        if rule.targets:
            try:
                wanted_refs = [normalize_ref(t, default_kind="Component") for t in rule.targets]
            except RefError as exc:
                return summed, f"targets: {exc}; its cost stays unallocated"
            targets = sorted(await self.catalog.defined(wanted_refs))
        weights = _weights(direct, targets, rule.split)
        rows: list[dict[str, Any]] = []
        kept = []
        for fact in matched.to_pylist():
            shares = {m: weights.get((fact["currency"], m)) for m in METRICS}
            if not all(shares.values()):
                kept.append(fact)
                continue
            split = {m: _split(fact[m], shares[m]) for m in METRICS}  # type: ignore[arg-type]
            for target in split[METRICS[0]]:
                row = {**fact, "entity": target, "service": None, "resource": None}
                row.update({m: split[m][target] for m in METRICS})
                rows.append(row)
        rest = summed.filter(pc.invert(mask))
        tables = [rest, pa.Table.from_pylist(rows + kept, schema=rest.schema)]
        problem = None
        if kept:
            problem = (
                f"{len(kept)} matching fact(s) have no target with direct cost in their "
                "currency; they stay unallocated"
            )
        return _sum(pa.concat_tables(tables)), problem


def _weights(
    direct: pa.Table, targets: list[str] | None, split: str
) -> dict[tuple[str, str], dict[str, Decimal]]:
    """(currency, metric) -> target -> weight: 1 each (even) or positive direct cost."""
    totals = direct.group_by(["currency", "entity"], use_threads=False).aggregate(
        [(m, "sum") for m in METRICS]
    )
    found: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for row in totals.to_pylist():
        if targets is not None and row["entity"] not in targets:
            continue
        for metric in METRICS:
            amount = row[f"{metric}_sum"]
            if split == "even":
                found[row["currency"], metric][row["entity"]] = Decimal(1)
            elif amount > 0:
                found[row["currency"], metric][row["entity"]] = amount
    if split == "even" and targets:
        # Even splits go to every named target, with direct cost of its own or not.
        for currency in {key[0] for key in found} or set(direct["currency"].to_pylist()):
            for metric in METRICS:
                found[currency, metric] = dict.fromkeys(targets, Decimal(1))
    return found


def _split(amount: Decimal, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """``amount`` in shares proportional to ``weights``, summing back to it exactly."""
    total = sum(weights.values())
    with decimal.localcontext() as context:
        context.prec = 80
        shares = {
            t: (amount * w / total).quantize(_SCALE, rounding=decimal.ROUND_DOWN)
            for t, w in sorted(weights.items())
        }
    largest = max(sorted(weights), key=lambda t: weights[t])
    shares[largest] += amount - sum(shares.values())
    return shares


def _sum(keyed: pa.Table) -> pa.Table:
    summed = keyed.group_by(_FACT_KEYS, use_threads=False).aggregate(
        [(metric, "sum") for metric in METRICS]
    )
    return summed.rename_columns([*_FACT_KEYS, *METRICS])


def _empty() -> pa.Table:
    fields = [COST_FACT_SCHEMA.field(k) for k in _FACT_KEYS]
    return pa.schema([*fields, *((m, DECIMAL) for m in METRICS)]).empty_table()


def _fact_table(summed: pa.Table) -> pa.Table:
    """Decimal sums as the (units, nanos) columns stores keep."""
    columns: dict[str, Any] = {k: summed[k] for k in _FACT_KEYS}
    for metric in METRICS:
        units, nanos = _parts(summed[metric])
        columns[f"{metric}_units"], columns[f"{metric}_nanos"] = units, nanos
    return pa.table(columns).select(COST_FACT_SCHEMA.names).cast(COST_FACT_SCHEMA)


def _parts(amounts: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Whole units and nano-units (same sign), rounded half-even to nano-units."""
    nine = pc.round(amounts, ndigits=9, round_mode="half_to_even").cast(pa.decimal128(38, 9))
    try:
        # "-12.500000000" -> -12500000000: exact, and fast for every fact that fits int64.
        total = pc.replace_substring(nine.cast(pa.string()), ".", "").cast(pa.int64())
    except pa.ArrowInvalid:
        pairs = [to_parts(v) for v in amounts.to_pylist()]
        return pa.array([u for u, _ in pairs], pa.int64()), pa.array(
            [n for _, n in pairs], pa.int64()
        )
    units = pc.divide(total, 10**9)
    return units, pc.subtract(total, pc.multiply(units, 10**9))


async def apply_cost(
    store: GraphStore,
    source: str,
    aggregator: CostAggregator,
    rules: Sequence[SharedCostRule] = (),
    *,
    actor: str = "system",
    action: str = "load cost",
) -> CostLoadReport:
    """Replace what ``source`` gave before with these facts; an unchanged source writes nothing.

    Example:
        >>> await apply_cost(store, "focus:/data/2024-05.csv", aggregator)  # doctest: +SKIP
    """
    facts, warnings = await aggregator.facts(rules)
    digest = facts_hash(facts)
    report = CostLoadReport(
        source=source,
        lines=aggregator.lines,
        facts=facts.num_rows,
        totals={c: dict(v) for c, v in aggregator.totals.items()},
        unallocated=_unallocated(facts),
        warnings=warnings,
    )
    previous = await store.cost_source(source)
    if previous is not None and previous.hash == digest and previous.lines == aggregator.lines:
        return report
    # Arrow's allocator keeps what reading and summing freed (about 100 MiB for 1M lines)
    # mapped for reuse; handing it back first keeps it from adding to the store's own peak
    # while it writes.
    pa.default_memory_pool().release_unused()
    change = EntityChange(source, previous.hash if previous else None, digest)
    await store.apply(
        ChangeSet(
            source=source,
            facts=SourceFacts(cost=CostSet(facts, digest, aggregator.lines)),
            audit=audit_event(actor, action, source, [change]),
        )
    )
    report.changed = True
    return report


def _unallocated(facts: pa.Table) -> dict[str, Decimal]:
    nobody = facts.filter(pc.is_null(facts["entity"]))
    found: dict[str, Decimal] = defaultdict(Decimal)
    for row in nobody.select(["currency", "effective_units", "effective_nanos"]).to_pylist():
        found[row["currency"]] += from_parts(row["effective_units"], row["effective_nanos"])
    return dict(found)
