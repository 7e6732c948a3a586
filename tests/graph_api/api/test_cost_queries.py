"""GraphQL cost over a real store: cost on each kind, costReport, who may see it, batching.

The catalog is the one of ``tests/loaders/cloud/conftest.py``; the cost is a FOCUS export
loaded through the real loader, with these effective amounts (USD unless said):

* checkout (payments, system shop, domain commerce): 2024-01-10 100.00 Compute,
  2024-02-10 40.00 Storage, 2024-02-11 -10.00 credit; 2023-12-10 50.00 (previous period);
* web (platform): 2024-02-15 25.50; search (platform): 2024-01-20 0.25 and 3.00 EUR;
* the bucket resource (tied to search): 2024-02-20 4.00;
* unallocated: 2024-01-31 7.00 AWS Support, account 111111111111.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import load_focus, load_terraform
from tests.loaders.cloud.conftest import catalog_of, cloud_store, focus_csv, line
from tests.loaders.cloud.test_resources import BUCKET_ARN, STATE_V4

SCHEMA = build_schema()
ADMIN = Viewer(name="root", role="admin", authenticated=True)
FINANCE = Viewer(name="fin", role="finance", authenticated=True)
WINDOW = 'from: "2024-01-01", to: "2024-02-29"'
__all__ = ["cloud_store"]  # the fixture, shared with the loader tests


@pytest.fixture
async def costed(cloud_store: EmbeddedStore, tmp_path: Path) -> EmbeddedStore:
    (tmp_path / "state.json").write_text(json.dumps(STATE_V4), encoding="utf-8")
    await load_terraform(cloud_store, [tmp_path / "state.json"], await catalog_of(cloud_store))
    rows = [
        line("2024-01-10T00:00:00Z", "100.00", tags='{"service": "checkout"}'),
        line("2024-02-10T00:00:00Z", "40.00", category="Storage", tags='{"service": "checkout"}'),
        line("2024-02-11T00:00:00Z", "-10.00", charge="Credit", tags='{"service": "checkout"}'),
        line("2023-12-10T00:00:00Z", "50.00", tags='{"service": "checkout"}'),
        line("2024-02-15T00:00:00Z", "25.50", tags='{"app": "web"}'),
        line("2024-01-20T00:00:00Z", "0.25", tags='{"app": "search"}'),
        line("2024-01-20T00:00:00Z", "3.00", currency="EUR", tags='{"app": "search"}'),
        line("2024-02-20T00:00:00Z", "4.00", resource=BUCKET_ARN),
        line("2024-01-31T00:00:00Z", "7.00", service="AWS Support", category="Other"),
    ]
    (tmp_path / "focus.csv").write_text(focus_csv(rows), encoding="utf-8")
    (report,) = await load_focus(
        cloud_store, [tmp_path / "focus.csv"], await catalog_of(cloud_store)
    )
    assert report.ok, report.errors
    return cloud_store


async def run(store: EmbeddedStore, query: str, viewer: Viewer = ADMIN) -> Any:
    context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
    return await SCHEMA.execute(query, context_value=context)


async def data(store: EmbeddedStore, query: str, viewer: Viewer = ADMIN) -> dict[str, Any]:
    result = await run(store, query, viewer)
    assert not result.errors, [e.formatted for e in result.errors]
    return result.data  # type: ignore[return-value]


def money(items: list[dict[str, str]]) -> dict[str, str]:
    return {m["currency"]: m["amount"] for m in items}


async def test_component_cost_totals_categories_series_and_change(costed: EmbeddedStore) -> None:
    found = await data(
        costed,
        f"""{{ component(ref: "checkout") {{ cost({WINDOW}) {{
              from to metric previousFrom previousTo
              total {{ currency amount }}
              byCategory {{ category currency amount }}
              series {{ period currency amount }}
              daily: series(granularity: DAY) {{ period amount }}
              change {{ currency current previous change percent }}
        }} }} }}""",
    )
    cost = found["component"]["cost"]
    assert (cost["from"], cost["to"], cost["metric"]) == ("2024-01-01", "2024-02-29", "EFFECTIVE")
    assert (cost["previousFrom"], cost["previousTo"]) == ("2023-11-01", "2023-12-31")
    assert cost["total"] == [{"currency": "USD", "amount": "130.00"}]
    assert cost["byCategory"] == [
        {"category": "Compute", "currency": "USD", "amount": "90.00"},
        {"category": "Storage", "currency": "USD", "amount": "40.00"},
    ]
    assert cost["series"] == [
        {"period": "2024-01-01", "currency": "USD", "amount": "100.00"},
        {"period": "2024-02-01", "currency": "USD", "amount": "30.00"},
    ]
    assert len(cost["daily"]) == 60 and cost["daily"][9] == {
        "period": "2024-01-10",
        "amount": "100.00",
    }
    assert cost["change"] == [
        {
            "currency": "USD",
            "current": "130.00",
            "previous": "50.00",
            "change": "80.00",
            "percent": "160.00",
        }
    ]


async def test_every_costed_kind_answers(costed: EmbeddedStore) -> None:
    found = await data(
        costed,
        f"""{{
          resource(ref: "s3-bucket-acme-search-index") {{ cost({WINDOW}) {{ total {{ currency amount }} }} }}
          system(ref: "shop") {{ cost({WINDOW}) {{ total {{ currency amount }} }} }}
          domain(ref: "commerce") {{ cost({WINDOW}) {{ total {{ currency amount }} }} }}
          platform: group(ref: "platform") {{ cost({WINDOW}) {{ total {{ currency amount }} }} }}
          org: group(ref: "org") {{ cost({WINDOW}, metric: BILLED) {{ total {{ currency amount }} }} }}
        }}""",
    )
    assert money(found["resource"]["cost"]["total"]) == {"USD": "4.00"}
    assert money(found["system"]["cost"]["total"]) == {"USD": "130.00"}
    assert money(found["domain"]["cost"]["total"]) == {"USD": "130.00"}
    # platform owns web and search (and the bucket tied to search); currencies stay apart
    assert money(found["platform"]["cost"]["total"]) == {"EUR": "3.00", "USD": "29.75"}
    # a team's cost includes its child teams' cost
    assert money(found["org"]["cost"]["total"]) == {"EUR": "3.00", "USD": "159.75"}


async def test_cost_is_visible_to_the_owning_team_and_above_only(costed: EmbeddedStore) -> None:
    query = '{ component(ref: "checkout") { cost { total { amount } } } }'
    platform = Viewer(name="pat", role="viewer", team="group:default/platform", authenticated=True)
    denied = await run(costed, query, platform)
    assert denied.errors and denied.errors[0].extensions["code"] == "FORBIDDEN"
    assert denied.data == {"component": None}
    anonymous = await run(costed, query, Viewer.anonymous())
    assert anonymous.errors[0].extensions["code"] == "FORBIDDEN"
    above = Viewer(name="olga", role="viewer", team="group:default/org", authenticated=True)
    # The default window: the twelve months up to the latest cost (Dec 2023 included).
    assert (await data(costed, query, above))["component"]["cost"]["total"] == [
        {"amount": "180.00"}
    ]
    assert (await data(costed, query, FINANCE))["component"]["cost"]["total"] == [
        {"amount": "180.00"}
    ]
    own = await data(costed, '{ group(ref: "platform") { cost { total { currency } } } }', platform)
    assert own["group"]["cost"]["total"]


async def test_cost_report_rows_unallocated_and_total_reconcile(costed: EmbeddedStore) -> None:
    found = await data(
        costed,
        f"""{{
          team: costReport(groupBy: TEAM, {WINDOW}) {{
            groupBy from to rows {{ key currency amount }}
            unallocated {{ currency amount }}
            unallocatedDetail {{ provider account service currency amount }}
            total {{ currency amount }}
          }}
          category: costReport(groupBy: SERVICE_CATEGORY, {WINDOW}, metric: LIST) {{ rows {{ key amount }} }}
          component: costReport(groupBy: COMPONENT, {WINDOW}) {{ rows {{ key currency amount }} }}
          system: costReport(groupBy: SYSTEM, {WINDOW}) {{ rows {{ key currency amount }} }}
          domain: costReport(groupBy: DOMAIN, {WINDOW}) {{ rows {{ key currency amount }} }}
          provider: costReport(groupBy: PROVIDER, {WINDOW}) {{ rows {{ key currency amount }} }}
          account: costReport(groupBy: ACCOUNT, {WINDOW}) {{ rows {{ key currency amount }} }}
        }}""",
        FINANCE,
    )
    team = found["team"]
    assert team["rows"] == [
        {"key": "group:default/payments", "currency": "USD", "amount": "130.00"},
        {"key": "group:default/platform", "currency": "USD", "amount": "29.75"},
        {"key": "group:default/platform", "currency": "EUR", "amount": "3.00"},
    ]
    assert team["unallocated"] == [{"currency": "USD", "amount": "7.00"}]
    assert team["unallocatedDetail"] == [
        {
            "provider": "AWS",
            "account": "222222222222",
            "service": "AWS Support",
            "currency": "USD",
            "amount": "7.00",
        }
    ]
    assert money(team["total"]) == {"EUR": "3.00", "USD": "166.75"}
    assert found["category"]["rows"][0] == {"key": "Compute", "amount": "119.75"}
    assert found["component"]["rows"][0]["key"] == "component:default/checkout"
    assert found["system"]["rows"][0] == {
        "key": "system:default/shop",
        "currency": "USD",
        "amount": "130.00",
    }
    assert {"key": None, "currency": "USD", "amount": "29.75"} in found["system"]["rows"]
    assert found["domain"]["rows"][0]["key"] == "domain:default/commerce"
    assert found["provider"]["rows"][0]["key"] == "AWS"
    assert found["account"]["rows"][0] == {
        "key": "222222222222",
        "currency": "USD",
        "amount": "159.75",
    }


async def test_cost_report_needs_admin_or_a_cost_role(costed: EmbeddedStore) -> None:
    query = "{ costReport(groupBy: TEAM) { total { amount } } }"
    editor = Viewer(name="ed", role="editor", team="group:default/org", authenticated=True)
    result = await run(costed, query, editor)
    assert result.errors[0].extensions["code"] == "FORBIDDEN"
    assert "finance" in result.errors[0].message
    assert (await data(costed, query, ADMIN))["costReport"]["total"]


async def test_a_window_the_wrong_way_round_is_bad_input(costed: EmbeddedStore) -> None:
    result = await run(
        costed,
        '{ costReport(groupBy: TEAM, from: "2024-03-01", to: "2024-01-01") { total { amount } } }',
    )
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_unowned_resources_are_listed(costed: EmbeddedStore) -> None:
    found = await data(costed, "{ unownedResources(first: 10) { totalCount nodes { ref } } }")
    assert found["unownedResources"] == {
        "totalCount": 1,
        "nodes": [{"ref": "resource:default/storage-account-acmelogs"}],
    }


async def test_a_page_of_components_costs_one_store_call(costed: EmbeddedStore) -> None:
    await data(costed, "{ components(first: 10) { nodes { ref } } }")
    calls = costed.calls
    await data(costed, "{ components(first: 10) { nodes { ref } } }")
    plain = costed.calls - calls
    calls = costed.calls
    found = await data(
        costed,
        f"{{ components(first: 10) {{ nodes {{ ref cost({WINDOW}) {{ total {{ amount }} }} }} }} }}",
    )
    assert len(found["components"]["nodes"]) == 3
    # the page as before, then one cost call for all three components
    assert costed.calls - calls == plain + 1
