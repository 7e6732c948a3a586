"""FinOps FOCUS cost exports as sources: ``devgraph load focus FILE...``.

Reads FOCUS 1.0 and later as providers write it: CSV, gzipped CSV or Parquet, streamed in
batches (pyarrow's streaming CSV reader, ``ParquetFile.iter_batches``), so memory does not
grow with the file. Untidy exports are read as they are: timestamps with or without ``T``
and ``Z``, nulls written as empty fields or ``NULL``, column names in any case or spacing,
``x_`` and other extra columns (ignored), several billing periods in one file. 1.3's
``ServiceProviderName``, ``AllocatedResourceId`` and ``AllocatedTags`` are used when present.

What the specification forbids is rejected by name: a missing mandatory column, or a null,
non-numeric or non-UTC value where a value is required. One bad line fails the file, so
the previous cost of that source stays as it was.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graph_api.settings import SharedCostRule
from graph_api.store import GraphStore
from loaders.cloud.attribution import Catalog
from loaders.cloud.costs import (
    DECIMAL,
    LINE_SCHEMA,
    METRICS,
    CostAggregator,
    CostFileError,
    CostLoadReport,
    apply_cost,
)

# FOCUS columns read, by what they become; each must be present unless optional.
COST_COLUMNS = {"billed": "BilledCost", "effective": "EffectiveCost", "list": "ListCost"}
REQUIRED = {
    "day": "ChargePeriodStart",
    "currency": "BillingCurrency",
    "category": "ServiceCategory",
    "service": "ServiceName",
    "billing_account": "BillingAccountId",
    **COST_COLUMNS,
}
# 1.3 renamed ProviderName to ServiceProviderName; either will do, the newer first.
PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")
# Conditional columns: used when present, null where they do not apply.
OPTIONAL = {
    "sub_account": ("SubAccountId",),
    "resource_id": ("AllocatedResourceId", "ResourceId"),
    "tags": ("AllocatedTags", "Tags"),
}
NULLS = ["", "NULL", "null", "Null"]
# Lines normalised and summed at once. The column work holds several copies of a batch:
# 64k-line batches put a 1M-line load's peak about 75 MiB above 16k ones, at the same speed.
BATCH_ROWS = 1 << 14
# Arrow's streaming CSV reader reads up to 32 blocks ahead of the one it parses, so the block
# size sets its memory: Arrow's peak was 156 MiB with 4 MiB blocks and 39 MiB with 1 MiB, at
# the same speed. A row must fit in one block, which 1 MiB does for any real export.
CSV_BLOCK_BYTES = 1 << 20
MAX_ERRORS = 20
_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:[Zz]|[+-]00(?::?00)?| ?UTC)?$"
)
_CURRENCY = r"^[A-Z]{3}$"


@dataclass(slots=True)
class _Batch:
    columns: dict[str, pa.Array]
    first_row: int


class FocusFile:
    """One FOCUS export file; each file is one source (``focus:<absolute path>``).

    Args:
        path: ``.csv``, ``.csv.gz`` (or any gzip) or ``.parquet``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.gzipped = path.suffix.lower() == ".gz"

    @property
    def key(self) -> str:
        return f"focus:{self.path.resolve()}"

    def header(self) -> list[str]:
        """Column names as written, without a byte-order mark or surrounding spaces."""
        if self.parquet:
            return list(pq.ParquetFile(self.path).schema_arrow.names)
        opener = gzip.open if self.gzipped else open
        with opener(self.path, "rt", encoding="utf-8-sig", newline="") as text:  # type: ignore[operator]
            first = next(csv.reader(text), [])
        return [name.strip() for name in first]

    def columns(self) -> dict[str, str]:
        """What each needed column is called in this file.

        Raises:
            CostFileError: naming the file and every missing mandatory column.
        """
        try:
            names = self.header()
        except (OSError, UnicodeDecodeError, pa.ArrowException, csv.Error) as exc:
            raise CostFileError([f"{self.path}: cannot read: {exc}"]) from exc
        by_lower = {}
        for name in names:
            by_lower.setdefault(name.lower(), name)
        found: dict[str, str] = {}
        missing = []
        for role, column in REQUIRED.items():
            if column.lower() in by_lower:
                found[role] = by_lower[column.lower()]
            else:
                missing.append(column)
        provider = next(
            (by_lower[c.lower()] for c in PROVIDER_COLUMNS if c.lower() in by_lower), None
        )
        if provider is None:
            missing.append(" or ".join(PROVIDER_COLUMNS))
        else:
            found["provider"] = provider
        if missing:
            raise CostFileError(
                [f"{self.path}: missing required FOCUS column {name}" for name in missing]
            )
        for role, candidates in OPTIONAL.items():
            present = [by_lower[c.lower()] for c in candidates if c.lower() in by_lower]
            if present:
                found[role] = present[0]
                if len(present) > 1:
                    found[f"{role}_fallback"] = present[1]
        return found

    def batches(self, columns: dict[str, str]) -> Iterator[_Batch]:
        """The needed columns, a batch at a time, with the 0-based index of the first row."""
        wanted = sorted(set(columns.values()))
        row = 0
        if self.parquet:
            for batch in pq.ParquetFile(self.path).iter_batches(BATCH_ROWS, columns=wanted):
                yield _Batch({n: batch.column(n) for n in wanted}, row)
                row += batch.num_rows
            return
        names = self.header()
        read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES)
        convert = pacsv.ConvertOptions(
            include_columns=wanted,
            column_types={name: pa.string() for name in wanted},
            null_values=NULLS,
            strings_can_be_null=True,
        )
        stream = pa.input_stream(str(self.path), compression="gzip" if self.gzipped else None)
        with pacsv.open_csv(
            stream,
            read_options=read,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        ) as reader:
            for group in _regrouped(reader, BATCH_ROWS):
                yield _Batch(
                    {n: pa.concat_arrays([b.column(n) for b in group]) for n in wanted}, row
                )
                row += sum(b.num_rows for b in group)

    def where(self, row: int) -> str:
        """A row's place: its line in a CSV (the header is line 1), its row in Parquet."""
        return f"{self.path}: row {row + 1}" if self.parquet else f"{self.path}: line {row + 2}"


def _regrouped(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """Consecutive batches gathered until a group holds ``rows`` rows (the last may hold fewer).

    Small CSV blocks keep the reader's memory low, but every batch normalised and aggregated
    costs a round of column operations and a group-by whatever its size.
    """
    group: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        group.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield group
            group, size = [], 0
    if group:
        yield group


def _text(column: pa.Array) -> pa.Array:
    """A column as trimmed text, with the null spellings of untidy exports as nulls."""
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    column = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.is_in(column, pa.array(NULLS)), pa.scalar(None, pa.string()), column)


class _Problems:
    """Bad rows of one file, the first :data:`MAX_ERRORS` of them spelled out."""

    def __init__(self, file: FocusFile) -> None:
        self.file = file
        self.messages: list[str] = []
        self.count = 0

    def add(self, first_row: int, rows: list[int], message: str) -> None:
        for index in rows:
            self.count += 1
            if len(self.messages) < MAX_ERRORS:
                self.messages.append(f"{self.file.where(first_row + index)}: {message}")

    def mask(self, batch: _Batch, bad: pa.Array, message: str) -> None:
        if pc.any(bad).as_py():
            rows = pc.indices_nonzero(pc.fill_null(bad, True)).to_pylist()
            self.add(batch.first_row, rows, message)

    def final(self) -> list[str]:
        more = self.count - len(self.messages)
        return self.messages + ([f"{self.file.path}: ... and {more} more bad rows"] if more else [])


def _day(column: pa.Array, name: str, batch: _Batch, problems: _Problems) -> pa.Array:
    if pa.types.is_timestamp(column.type):
        utc = column.cast(pa.timestamp(column.type.unit)) if column.type.tz else column
        return utc.cast(pa.date32())
    if pa.types.is_date(column.type):
        return column.cast(pa.date32())
    text = _text(column)
    problems.mask(batch, pc.is_null(text), f"{name} is null")
    shaped = pc.match_substring_regex(text, _TIMESTAMP)
    problems.mask(
        batch,
        pc.and_(pc.is_valid(text), pc.invert(shaped)),
        f"{name} is not an ISO 8601 date/time in UTC",
    )
    day = pc.utf8_slice_codeunits(pc.if_else(shaped, text, pa.scalar(None, pa.string())), 0, 10)
    try:
        return day.cast(pa.date32())
    except pa.ArrowInvalid:
        values = day.to_pylist()
        bad = []
        for index, value in enumerate(values):
            try:
                pa.scalar(value, pa.string()).cast(pa.date32())
            except pa.ArrowInvalid:
                bad.append(index)
                values[index] = None
        problems.add(batch.first_row, bad, f"{name} is not a valid date")
        return pa.array(values, pa.string()).cast(pa.date32())


def _amount(column: pa.Array, name: str, batch: _Batch, problems: _Problems) -> pa.Array:
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.string())  # rescaled below with the same checks as text
    elif pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        # Arrow prints floats as their shortest round-trip text, which is what was meant.
        column = column.cast(pa.string())
    text = _text(column)
    problems.mask(batch, pc.is_null(text), f"{name} is null")
    try:
        return text.cast(DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[Decimal | None] = []
    bad = []
    for index, value in enumerate(text.to_pylist()):
        try:
            number = Decimal(value) if value is not None else None
        except InvalidOperation:
            number = None
        if value is not None and (number is None or not number.is_finite()):
            bad.append(index)
            number = None
        # More than 18 decimals is allowed by FOCUS; beyond 1e-18 it is rounded.
        values.append(number.quantize(Decimal(1).scaleb(-18)) if number is not None else None)
    for index in bad:
        problems.add(batch.first_row, [index], f"{name} {text[index].as_py()!r} is not a number")
    return pa.array(values, DECIMAL)


def normalise(batch: _Batch, columns: dict[str, str], problems: _Problems) -> pa.Table:
    """One batch as :data:`LINE_SCHEMA`; bad rows are added to ``problems``."""
    get = batch.columns
    size = len(next(iter(get.values())))
    out: dict[str, pa.Array] = {}
    out["day"] = _day(get[columns["day"]], REQUIRED["day"], batch, problems)
    currency = pc.utf8_upper(_text(get[columns["currency"]]))
    problems.mask(batch, pc.is_null(currency), "BillingCurrency is null")
    problems.mask(
        batch,
        pc.and_(pc.is_valid(currency), pc.invert(pc.match_substring_regex(currency, _CURRENCY))),
        "BillingCurrency is not an ISO 4217 currency code",
    )
    out["currency"] = currency
    for role in ("category", "provider", "billing_account", "service"):
        column = columns[role]
        values = _text(get[column])
        problems.mask(batch, pc.is_null(values), f"{column} is null")
        out[role] = values
    for role in OPTIONAL:
        if role in columns:
            values = _text(get[columns[role]])
            fallback = columns.get(f"{role}_fallback")
            out[role] = pc.coalesce(values, _text(get[fallback])) if fallback else values
        else:
            out[role] = pa.nulls(size, pa.string())
    for metric in METRICS:
        column = columns[metric]
        out[metric] = _amount(get[column], column, batch, problems)
    return pa.table(out).select(LINE_SCHEMA.names).cast(LINE_SCHEMA)


async def read_focus(file: FocusFile, aggregator: CostAggregator) -> None:
    """Stream ``file`` into ``aggregator``.

    Raises:
        CostFileError: naming the missing columns, or the bad rows with their line numbers.
    """
    columns = file.columns()
    problems = _Problems(file)
    try:
        for batch in file.batches(columns):
            lines = normalise(batch, columns, problems)
            if not problems.count:
                await aggregator.add(lines)
    except (OSError, pa.ArrowInvalid, EOFError, gzip.BadGzipFile, io.UnsupportedOperation) as exc:
        raise CostFileError([f"{file.path}: cannot read: {exc}"]) from exc
    if problems.count:
        raise CostFileError(problems.final())


async def load_focus(
    store: GraphStore,
    paths: list[Path],
    catalog: Catalog,
    rules: list[SharedCostRule] | None = None,
    *,
    actor: str = "system",
) -> list[CostLoadReport]:
    """Load each file as its own source; a file that fails changes nothing.

    Example:
        >>> await load_focus(store, [Path("focus-2024-05.csv.gz")], catalog)  # doctest: +SKIP
    """
    reports = []
    for path in paths:
        file = FocusFile(path)
        aggregator = CostAggregator(catalog)
        try:
            await read_focus(file, aggregator)
        except CostFileError as exc:
            catalog.unknown.clear()
            reports.append(CostLoadReport(source=file.key, errors=exc.problems))
            continue
        reports.append(
            await apply_cost(
                store, file.key, aggregator, rules or [], actor=actor, action="load focus"
            )
        )
        catalog.unknown.clear()
    return reports
