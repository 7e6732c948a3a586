"""Cost as devgraph stores it: daily facts per entity, category, provider and currency.

A fact is an aggregate of bill lines, never one line: ``day × entity × resource × service
category × provider × account × currency`` with the three FOCUS amounts. ``entity`` is the
catalog entity the cost is attributed to (a component, a system or a team) and None for cost
nobody could be given; ``service`` is kept only on such unallocated facts, which are reported
by provider, account and service.

Amounts are exact decimals. Stores keep each as two integers, whole units and nano-units
(the ``google.type.Money`` split), so sums in either database are exact and cannot overflow
a 64-bit integer; the parts are recombined into a :class:`~decimal.Decimal` in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum

import pyarrow as pa

NANOS = 10**9
NANO = Decimal(1).scaleb(-9)


class CostMetric(str, Enum):
    """Which FOCUS amount to sum: EffectiveCost (amortised), BilledCost or ListCost."""

    EFFECTIVE = "effective"
    BILLED = "billed"
    LIST = "list"


class CostDimension(str, Enum):
    """What cost can be grouped by in a store query."""

    ENTITY = "entity"
    RESOURCE = "resource"
    CATEGORY = "category"
    PROVIDER = "provider"
    ACCOUNT = "account"
    SERVICE = "service"
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class CostFact:
    """One stored fact; build tables of them with :func:`cost_fact_table`."""

    day: date
    category: str
    provider: str
    currency: str
    billed: Decimal
    effective: Decimal
    list: Decimal
    entity: str | None = None
    resource: str | None = None
    account: str | None = None
    service: str | None = None


# Key columns first, then the amounts as (units, nanos) pairs per metric.
COST_KEYS: tuple[str, ...] = (
    "day",
    "entity",
    "resource",
    "category",
    "provider",
    "account",
    "service",
    "currency",
)
AMOUNT_COLUMNS: tuple[str, ...] = tuple(
    f"{metric.value}_{part}" for metric in CostMetric for part in ("units", "nanos")
)
COST_FACT_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("entity", pa.string()),
        pa.field("resource", pa.string()),
        pa.field("category", pa.string(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("account", pa.string()),
        pa.field("service", pa.string()),
        pa.field("currency", pa.string(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in AMOUNT_COLUMNS),
    ]
)


def to_parts(amount: Decimal) -> tuple[int, int]:
    """``(units, nanos)`` of an amount rounded half-even to nano-units; ``units`` truncates.

    Example:
        >>> to_parts(Decimal("-1.5"))
        (-1, -500000000)
    """
    total = int(amount.quantize(NANO, rounding=ROUND_HALF_EVEN).scaleb(9))
    units = abs(total) // NANOS * (1 if total >= 0 else -1)
    return units, total - units * NANOS


def from_parts(units: int, nanos: int) -> Decimal:
    """The exact amount of summed parts (nanos may exceed one unit after a sum)."""
    return Decimal(int(units) * NANOS + int(nanos)).scaleb(-9)


def amount_text(amount: Decimal) -> str:
    """A decimal as plain text with 2 to 9 decimals: never an exponent, never a float.

    Example:
        >>> amount_text(Decimal("12.5")), amount_text(Decimal("1E-7"))
        ('12.50', '0.0000001')
    """
    quantized = amount.quantize(NANO, rounding=ROUND_HALF_EVEN)
    if quantized == 0:
        quantized = abs(quantized)
    whole, _, fraction = format(quantized, "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def cost_fact_table(facts: Iterable[CostFact]) -> pa.Table:
    """Facts as an Arrow table in :data:`COST_FACT_SCHEMA`, the shape stores write."""
    rows = []
    for fact in facts:
        row = {key: getattr(fact, key) for key in COST_KEYS}
        for metric in CostMetric:
            units, nanos = to_parts(getattr(fact, metric.value))
            row[f"{metric.value}_units"] = units
            row[f"{metric.value}_nanos"] = nanos
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=COST_FACT_SCHEMA)


class _Digest:
    """A write-only file for Arrow IPC that keeps only a running SHA-256."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def facts_hash(facts: pa.Table) -> str:
    """Content hash of a fact table, independent of row order: equal facts, equal hash."""
    ordered = facts.select(COST_FACT_SCHEMA.names).cast(COST_FACT_SCHEMA)
    if ordered.num_rows:
        ordered = ordered.sort_by([(name, "ascending") for name in COST_FACT_SCHEMA.names])
    digest = _Digest()
    with pa.ipc.new_stream(pa.PythonFile(digest, mode="w"), COST_FACT_SCHEMA) as writer:
        for batch in ordered.combine_chunks().to_batches(max_chunksize=1 << 16):
            writer.write_batch(batch)
    return digest.hasher.hexdigest()[:32]
