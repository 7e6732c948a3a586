"""Each request limit: just under passes, just over fails with a clear error and code."""

from __future__ import annotations

from typing import Any

import pytest

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.settings import Limits, Settings
from graph_api.store.embedded import EmbeddedStore


async def run(store: EmbeddedStore, query: str, settings: Settings, **variables: Any) -> Any:
    context = RequestContext(store, Viewer.local_admin("t"), Policy(store))
    return await build_schema(settings).execute(query, variable_values=variables, context_value=context)


def limited(**limits: Any) -> Settings:
    return Settings(limits=Limits(**limits))


def message(result: Any) -> str:
    assert result.errors, "expected the query to be rejected"
    return result.errors[0].message


async def test_depth(embedded: EmbeddedStore) -> None:
    settings = limited(max_depth=3)
    ok = await run(embedded, "{ entity(ref: \"x\") { ... on Component { owner { ref } } } }", settings)
    assert ok.errors is None
    deep = "{ entity(ref: \"x\") { ... on Component { owner { ... on Group { owns { ... on Component { owner { ref } } } } } } } }"
    assert message(await run(embedded, deep, settings)) == "query depth 5 exceeds the limit of 3"


async def test_aliases_including_fragment_spreads(embedded: EmbeddedStore) -> None:
    settings = limited(max_aliases=3)
    ok = await run(embedded, "{ a: catalogStats { kind } b: catalogStats { kind } }", settings)
    assert ok.errors is None
    plain = "{ a: catalogStats { kind } b: catalogStats { kind } c: catalogStats { kind } d: catalogStats { kind } }"
    assert message(await run(embedded, plain, settings)) == (
        "query uses 4 aliases, over the limit of 3"
    )
    # The bypass fixed in strawberry 0.315.7: aliases hidden in (nested) fragments count too.
    hidden = """
    query { ...A ...B }
    fragment A on Query { a: catalogStats { kind } b: catalogStats { kind } ...C }
    fragment B on Query { c: catalogStats { kind } }
    fragment C on Query { d: catalogStats { kind } ... on Query { e: catalogStats { kind } } }
    """
    assert message(await run(embedded, hidden, settings)) == (
        "query uses 5 aliases, over the limit of 3"
    )
    via_fragment = "query { ...A } fragment A on Query { x: entity(ref: \"a\") { ...B } }"
    via_fragment += " fragment B on Entity { ... on Component { owner { ref } } }"
    assert (await run(embedded, via_fragment, limited(max_depth=3))).errors is None
    assert "depth 3 exceeds" in message(await run(embedded, via_fragment, limited(max_depth=2)))


async def test_fragment_cycle_is_rejected_not_hung(embedded: EmbeddedStore) -> None:
    cyclic = "query { ...A } fragment A on Query { catalogStats { kind } ...B } fragment B on Query { ...A }"
    assert "Cannot spread fragment" in message(await run(embedded, cyclic, Settings()))


async def test_tokens(embedded: EmbeddedStore) -> None:
    settings = limited(max_tokens=20)
    assert (await run(embedded, "{ catalogStats { kind count } }", settings)).errors is None
    many = "{ " + " ".join(f"f{i}: catalogStats {{ kind }}" for i in range(10)) + " }"
    assert "token" in message(await run(embedded, many, limited(max_tokens=20, max_aliases=50)))


async def test_cost_with_nested_pages_and_variables(embedded: EmbeddedStore) -> None:
    settings = limited(max_cost=1000, max_nodes=100_000)
    query = "query($n: Int) { components(first: $n) { edges { node { ref dependsOn { ref } } } } }"
    # components: 1 + n * (edges: 1 + (node: 1 + (ref: 1) + (dependsOn: 1 + 10 * ref: 1)))
    # = 1 + 14n: a page's edges are counted once, a plain list as 10 (default_list_size).
    assert (await run(embedded, query, settings, n=71)).errors is None
    over = await run(embedded, query, settings, n=72)
    assert message(over) == (
        "query cost 1009 exceeds the limit of 1000; ask for smaller pages (first:) or fewer "
        "nested lists"
    )
    assert over.errors[0].extensions["code"] == "QUERY_TOO_COMPLEX"


async def test_node_estimate(embedded: EmbeddedStore) -> None:
    settings = limited(max_cost=10**9, max_nodes=150)
    query = "{ components(first: 100) { edges { node { ref } } } apis(first: 50) { totalCount } }"
    assert (await run(embedded, query, settings)).errors is None
    over = "{ components(first: 100) { edges { node { ref } } } apis(first: 51) { totalCount } }"
    assert "151 nodes" in message(await run(embedded, over, settings))


async def test_page_size_cap(embedded: EmbeddedStore) -> None:
    result = await run(embedded, "{ components(first: 101) { totalCount } }", Settings())
    assert "first must be between 0 and 100" in message(result)
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_execution_timeout(embedded: EmbeddedStore) -> None:
    result = await run(embedded, "{ catalogStats { kind } }", limited(execution_timeout_s=0.000001))
    assert message(result) == "query exceeded the execution timeout of 1e-06 s"
    assert result.errors[0].extensions["code"] == "TIMEOUT"


@pytest.mark.parametrize("introspection", [True, False])
async def test_introspection_switch(embedded: EmbeddedStore, introspection: bool) -> None:
    settings = Settings(introspection=introspection)
    result = await run(embedded, "{ __schema { queryType { name } } }", settings)
    if introspection:
        assert result.errors is None
    else:
        assert "introspection" in message(result).lower()
    assert (await run(embedded, "{ catalogStats { kind } }", settings)).errors is None


async def test_page_size_cap_follows_settings(embedded: EmbeddedStore) -> None:
    context = RequestContext(embedded, Viewer.local_admin("t"), Policy(embedded), max_page=10)
    query = "query($n: Int) { components(first: $n) { totalCount } }"
    schema = build_schema(Settings())
    ok = await schema.execute(query, variable_values={"n": 10}, context_value=context)
    assert ok.errors is None
    over = await schema.execute(query, variable_values={"n": 11}, context_value=context)
    assert "first must be between 0 and 10" in message(over)
