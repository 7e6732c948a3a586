"""``devgraph load terraform|kubernetes|focus|opencost`` and ``devgraph cost report``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from devgraph.cli import app
from tests.loaders.cloud.conftest import CATALOG, focus_csv, line
from tests.loaders.cloud.test_resources import MANIFESTS, OPENCOST, STATE_V4

runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_load_the_cloud_and_report_cost(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    (tmp_path / "state.json").write_text(json.dumps(STATE_V4), encoding="utf-8")
    (tmp_path / "k8s.yaml").write_text(MANIFESTS, encoding="utf-8")
    (tmp_path / "allocation.json").write_text(OPENCOST, encoding="utf-8")
    rows = [
        line("2024-01-10T00:00:00Z", "100.00", tags='{"owner-service": "checkout"}'),
        line("2024-02-10T00:00:00Z", "20.50", tags='{"app": "web"}'),
        line("2024-02-11T00:00:00Z", "5.25"),
    ]
    (tmp_path / "focus.csv").write_text(focus_csv(rows), encoding="utf-8")
    assert invoke("load", "files", str(tmp_path / "catalog.yaml"), "--store", store).exit_code == 0
    result = invoke("load", "terraform", str(tmp_path / "state.json"), "--store", store, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["added"] == 3
    result = invoke(
        "load", "kubernetes", str(tmp_path / "k8s.yaml"), "--cluster", "eu", "--store", store
    )
    assert result.exit_code == 0
    result = invoke(
        "load",
        "focus",
        str(tmp_path / "focus.csv"),
        "--tag-key",
        "Owner-Service",
        "--store",
        store,
        "--json",
    )
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)[0]["unallocated"] == {"USD": "5.25"}
    assert (
        invoke("load", "opencost", str(tmp_path / "allocation.json"), "--store", store).exit_code
        == 0
    )
    result = invoke(
        "cost",
        "report",
        "--by",
        "team",
        "--from",
        "2024-01-01",
        "--to",
        "2024-02-29",
        "--metric",
        "billed",
        "--json",
        "--svg",
        str(tmp_path / "trend.svg"),
        "--store",
        store,
    )
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["rows"] == [
        {"key": "group:default/payments", "currency": "USD", "amount": "100.00"},
        {"key": "group:default/platform", "currency": "USD", "amount": "20.50"},
    ]
    assert report["unallocated"] == [{"currency": "USD", "amount": "5.25"}]
    assert report["total"] == [{"currency": "USD", "amount": "125.75"}]
    svg = (tmp_path / "trend.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "payments" in svg and "<polyline" in svg
    table = invoke("cost", "report", "--by", "category", "--store", store)
    assert table.exit_code == 0 and "unallocated" in table.stdout and "total" in table.stdout


def test_a_bad_file_fails_the_command_and_names_the_column(tmp_path: Path) -> None:
    (tmp_path / "focus.csv").write_text("BilledCost,BillingCurrency\n1,USD\n", encoding="utf-8")
    result = invoke(
        "load", "focus", str(tmp_path / "focus.csv"), "--store", str(tmp_path / "s"), "--json"
    )
    assert result.exit_code == 1
    errors = json.loads(result.stdout)[0]["errors"]
    assert f"{tmp_path / 'focus.csv'}: missing required FOCUS column EffectiveCost" in errors
    bad = invoke("cost", "report", "--by", "nothing", "--store", str(tmp_path / "s"))
    assert bad.exit_code == 2
