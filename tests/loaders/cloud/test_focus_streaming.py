"""A FOCUS file read in many small blocks and batches gives the same facts as one read whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_api.model.cost import facts_hash
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import costs, focus
from loaders.cloud.costs import CostAggregator, CostFileError
from loaders.cloud.focus import FocusFile, read_focus
from tests.loaders.cloud.conftest import catalog_of, focus_csv, line
from tests.loaders.cloud.test_focus import independent_totals

TAGS = ('{"service": "checkout"}', '{"app": "web"}', '{"service": "nothing"}', "")


def many_lines(count: int) -> list[dict[str, str]]:
    """Lines over 40 days, four tag sets and three categories: many facts, all interleaved."""
    return [
        line(
            f"2024-04-{1 + index % 30:02d}T00:00:00Z" if index % 40 < 30 else "2024-05-01",
            f"{index % 97}.{index % 13:02d}",
            tags=TAGS[index % len(TAGS)],
            category=("Compute", "Storage", "Networking")[index % 3],
            sub_account=f"2222222222{index % 5:02d}",
        )
        for index in range(count)
    ]


async def facts_of(store: EmbeddedStore, path: Path) -> tuple[str, CostAggregator]:
    aggregator = CostAggregator(await catalog_of(store))
    await read_focus(FocusFile(path), aggregator)
    facts, _ = await aggregator.facts()
    return facts_hash(facts), aggregator


def read_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines, batches of 7, and partial sums merged past 5 rows."""
    monkeypatch.setattr(focus, "CSV_BLOCK_BYTES", 2048)
    monkeypatch.setattr(focus, "BATCH_ROWS", 7)
    monkeypatch.setattr(costs, "_MERGE_ROWS", 5)


async def test_small_blocks_and_merges_give_the_facts_of_one_read(
    cloud_store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = focus_csv(many_lines(600))
    path = tmp_path / "focus.csv"
    path.write_text(text, encoding="utf-8")
    whole, _ = await facts_of(cloud_store, path)
    read_small(monkeypatch)
    pieces, aggregator = await facts_of(cloud_store, path)
    assert pieces == whole
    assert aggregator.lines == 600
    expected = independent_totals(text)
    assert aggregator.totals["USD"]["billed"] == expected["USD", "BilledCost"]


async def test_a_bad_row_far_into_the_file_is_reported_by_its_line(
    cloud_store: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_small(monkeypatch)
    rows = many_lines(300)
    rows[250] = line("2024-04-02T00:00:00Z", "1,50", effective="1.5", listed="1.5")
    path = tmp_path / "focus.csv"
    path.write_text(focus_csv(rows).replace("\nand a second line", " and more"), encoding="utf-8")
    with pytest.raises(CostFileError) as raised:
        await read_focus(FocusFile(path), CostAggregator(await catalog_of(cloud_store)))
    assert raised.value.problems == [f"{path}: line 252: BilledCost '1,50' is not a number"]
