"""Each request limit: a query just under it answers, one just over is rejected before it
executes, with a message naming the figure and the limit, and an ``extensions.code``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import graphql
import pytest
from strawberry.extensions import AddValidationRules
from strawberry.types import ExecutionResult

from graph_api.api.context import RequestContext
from graph_api.api.limits import QueryMeasure, measure_operation
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.settings import Limits, Settings
from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore


async def run(
    store: GraphStore, query: str, settings: Settings, *, max_page: int = 100, **variables: Any
) -> ExecutionResult:
    context = RequestContext(store, Viewer.local_admin("t"), Policy(store), max_page=max_page)
    return await build_schema(settings).execute(
        query, variable_values=variables or None, context_value=context
    )


def limited(**limits: Any) -> Settings:
    return Settings(limits=Limits(**limits))


def ok(result: ExecutionResult) -> None:
    assert result.errors is None, [e.formatted for e in result.errors or []]


def rejected(result: ExecutionResult, code: str, message: str) -> None:
    """Rejected with exactly one error, before anything resolved."""
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1, result.errors
    assert result.errors[0].message == message
    assert result.errors[0].extensions["code"] == code


# -- depth ----------------------------------------------------------------------------------


async def test_depth(embedded: EmbeddedStore) -> None:
    settings = limited(max_depth=3)
    ok(await run(embedded, '{ entity(ref: "x") { ... on Component { owner { ref } } } }', settings))
    deeper = '{ entity(ref: "x") { ... on Component { owner { ... on Group { owns { ref } } } } } }'
    rejected(
        await run(embedded, deeper, settings),
        "QUERY_TOO_COMPLEX",
        "query depth 4 exceeds the limit of 3",
    )


async def test_depth_counts_levels_inside_fragments(embedded: EmbeddedStore) -> None:
    settings = limited(max_depth=3)
    fragments = """
    fragment A on Query { entity(ref: "x") { ...B } }
    fragment B on Entity { ... on Component { owner { ...C } } }
    """
    ok(await run(embedded, "{ ...A }" + fragments + "fragment C on Entity { ref }", settings))
    deeper = "fragment C on Entity { ... on Group { owns { ref } } }"
    rejected(
        await run(embedded, "{ ...A }" + fragments + deeper, settings),
        "QUERY_TOO_COMPLEX",
        "query depth 4 exceeds the limit of 3",
    )


# -- aliases --------------------------------------------------------------------------------


async def test_aliases(embedded: EmbeddedStore) -> None:
    settings = limited(max_aliases=3)
    three = "{ a: catalogStats { kind } b: catalogStats { kind } c: catalogStats { kind } }"
    ok(await run(embedded, three, settings))
    four = three[:-1] + "d: catalogStats { kind } }"
    rejected(
        await run(embedded, four, settings),
        "QUERY_TOO_COMPLEX",
        "query uses 4 aliases, over the limit of 3",
    )


async def test_aliases_hidden_in_fragments_count(embedded: EmbeddedStore) -> None:
    """The bypass strawberry fixed in 0.315.7: aliases in (nested, inline) fragments count."""
    settings = limited(max_aliases=3)
    query = """
    query { a: catalogStats { kind } ...A }
    fragment A on Query { ... on Query { b: catalogStats { kind } } ...B }
    fragment B on Query { ... on Query { c: catalogStats { count } %s } }
    """
    ok(await run(embedded, query % "", settings))
    rejected(
        await run(embedded, query % "d: catalogStats { kind }", settings),
        "QUERY_TOO_COMPLEX",
        "query uses 4 aliases, over the limit of 3",
    )


async def test_aliases_inside_introspection_count(embedded: EmbeddedStore) -> None:
    settings = limited(max_aliases=1)
    ok(await run(embedded, "{ __schema { q: queryType { name } } }", settings))
    rejected(
        await run(embedded, "{ __schema { q: queryType { name } m: mutationType { name } } }", settings),
        "QUERY_TOO_COMPLEX",
        "query uses 2 aliases, over the limit of 1",
    )


async def test_fragment_cycle_is_rejected_not_hung(embedded: EmbeddedStore) -> None:
    cyclic = """
    query { ...A }
    fragment A on Query { catalogStats { kind } ...B }
    fragment B on Query { ...A }
    """
    result = await run(embedded, cyclic, Settings())
    assert result.data is None and result.errors is not None
    assert [e.message for e in result.errors] == ["Cannot spread fragment 'A' within itself via 'B'."]
    # Validation rejects it first; the walk on its own terminates too.
    schema = build_schema()._schema
    measure = measure_operation(schema, graphql.parse(cyclic), None, {}, 10)
    assert measure == QueryMeasure(depth=2, aliases=0, cost=11, nodes=0)


async def test_fragments_spread_twice_at_every_level_are_measured_quickly(
    embedded: EmbeddedStore,
) -> None:
    """Each spread doubles the document's size; measuring it must not double the work."""
    levels = 40
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    query = f"{{ ...F0 }} {fragments} fragment F{levels} on Query {{ a: catalogStats {{ kind }} }}"
    started = time.perf_counter()
    result = await run(embedded, query, limited(max_tokens=5000))
    assert time.perf_counter() - started < 2
    assert result.errors is not None
    assert result.errors[0].message == f"query uses {2**levels} aliases, over the limit of 15"


# -- tokens ---------------------------------------------------------------------------------


async def test_tokens(embedded: EmbeddedStore) -> None:
    query = "{ catalogStats { kind count } }"  # 6 tokens and the end of the document
    ok(await run(embedded, query, limited(max_tokens=7)))
    rejected(
        await run(embedded, query, limited(max_tokens=6)),
        "QUERY_TOO_COMPLEX",
        "Syntax Error: Document contains more than 6 tokens. Parsing aborted.",
    )


# -- cost and nodes -------------------------------------------------------------------------

PAGE_WITH_DEPENDENCIES = """
query($n: Int) { components(first: $n) { edges { node { ref dependsOn { ref } } } } }
"""


async def test_cost_multiplies_by_the_page_and_by_plain_lists(embedded: EmbeddedStore) -> None:
    # components: 1 + n * (edges: 1 + (node: 1 + ref: 1 + dependsOn: 1 + 10 * (ref: 1)))
    # = 1 + 14n: a page's edges are counted once, a plain list as default_list_size (10).
    settings = limited(max_cost=1000)
    ok(await run(embedded, PAGE_WITH_DEPENDENCIES, settings, n=71))
    rejected(
        await run(embedded, PAGE_WITH_DEPENDENCIES, settings, n=72),
        "QUERY_TOO_COMPLEX",
        "query cost 1009 exceeds the limit of 1000; ask for smaller pages (first:) or fewer "
        "nested lists",
    )


async def test_cost_uses_variable_defaults_and_the_default_page(embedded: EmbeddedStore) -> None:
    settings = limited(max_cost=1000)
    with_default = PAGE_WITH_DEPENDENCIES.replace("$n: Int", "$n: Int = 72")
    rejected(
        await run(embedded, with_default, settings),
        "QUERY_TOO_COMPLEX",
        "query cost 1009 exceeds the limit of 1000; ask for smaller pages (first:) or fewer "
        "nested lists",
    )
    # Without first, a page holds 20: 1 + 14 * 20 = 281.
    rejected(
        await run(embedded, PAGE_WITH_DEPENDENCIES, limited(max_cost=280)),
        "QUERY_TOO_COMPLEX",
        "query cost 281 exceeds the limit of 280; ask for smaller pages (first:) or fewer "
        "nested lists",
    )


async def test_cost_multiplies_nested_plain_lists(embedded: EmbeddedStore) -> None:
    # 1 + 5 * (nodes: 1 + (dependsOn: 1 + 10 * (dependents: 1 + 10 * (ref: 1)))) = 561
    query = """
    { components(first: 5) { nodes { dependsOn { ... on Component { dependents { ref } } } } } }
    """
    ok(await run(embedded, query, limited(max_cost=561)))
    rejected(
        await run(embedded, query, limited(max_cost=560)),
        "QUERY_TOO_COMPLEX",
        "query cost 561 exceeds the limit of 560; ask for smaller pages (first:) or fewer "
        "nested lists",
    )


async def test_node_estimate(embedded: EmbeddedStore) -> None:
    settings = limited(max_nodes=150)
    query = "{ components(first: 100) { edges { node { ref } } } apis(first: %d) { totalCount } }"
    ok(await run(embedded, query % 50, settings))
    rejected(
        await run(embedded, query % 51, settings),
        "QUERY_TOO_COMPLEX",
        "query may return 151 nodes, over the limit of 150; ask for smaller pages (first:)",
    )


NESTED_PAGES = graphql.build_schema(
    """
    type Query { repositories(first: Int, last: Int): RepositoryConnection }
    type PageInfo { hasNextPage: Boolean }
    type RepositoryConnection { edges: [RepositoryEdge] nodes: [Repository] pageInfo: PageInfo }
    type RepositoryEdge { node: Repository }
    type Repository { name: String issues(first: Int): IssueConnection }
    type IssueConnection { edges: [IssueEdge] nodes: [Issue] pageInfo: PageInfo }
    type IssueEdge { node: Issue }
    type Issue { title: String labels: [Label] }
    type Label { name: String }
    """
)


def test_nested_pages_multiply_like_githubs_node_limit() -> None:
    """GitHub's worked example: 50 repositories with 10 issues each are 50 + 500 nodes."""
    query = graphql.parse(
        """
        query($repos: Int = 50, $issues: Int) {
          repositories(first: $repos) { nodes { issues(first: $issues) { nodes { title } } } }
          newest: repositories(last: 3) { edges { node { name } } }
        }
        """
    )
    measure = measure_operation(NESTED_PAGES, query, None, {"issues": 10}, 10)
    # repositories: 1 + 50 * (nodes: 1 + (issues: 1 + 10 * (nodes: 1 + title: 1))) = 1101;
    # newest: 1 + 3 * (edges: 1 + (node: 1 + name: 1)) = 10.
    assert measure == QueryMeasure(depth=5, aliases=1, cost=1111, nodes=50 + 50 * 10 + 3)


def test_plain_lists_under_pages_multiply_the_nodes_below() -> None:
    query = graphql.parse(
        "{ repositories(first: 2) { nodes { issues { nodes { labels { name } } } } } }"
    )
    measure = measure_operation(NESTED_PAGES, query, None, {}, 10)
    # Issues without first hold a default page of 20.
    assert measure == QueryMeasure(depth=6, aliases=0, cost=1 + 2 * (1 + 1 + 20 * (1 + 1 + 10)), nodes=2 + 2 * 20)


# -- page size ------------------------------------------------------------------------------


async def test_page_size_cap(embedded: EmbeddedStore) -> None:
    ok(await run(embedded, "{ components(first: 100) { totalCount } }", Settings()))
    result = await run(embedded, "{ components(first: 101) { totalCount } }", Settings())
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["first must be between 0 and 100"]
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_page_size_cap_follows_settings(embedded: EmbeddedStore) -> None:
    settings = limited(max_page=10)
    query = "query($n: Int) { components(first: $n) { totalCount } }"
    page = settings.limits.max_page  # what the app puts in every request's context
    ok(await run(embedded, query, settings, max_page=page, n=10))
    result = await run(embedded, query, settings, max_page=page, n=11)
    assert result.errors is not None
    assert [e.message for e in result.errors] == ["first must be between 0 and 10"]
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


# -- execution timeout ----------------------------------------------------------------------


class SlowStatsStore(EmbeddedStore):
    """The embedded store, with a ``catalogStats`` that takes half a second."""

    finished = 0

    async def stats(self) -> dict[str, int]:
        await asyncio.sleep(0.5)
        self.finished += 1
        return await super().stats()


@pytest.fixture
async def slow(tmp_path: Path) -> AsyncIterator[SlowStatsStore]:
    store = SlowStatsStore(tmp_path / "slow")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_execution_timeout(slow: SlowStatsStore) -> None:
    query = "{ catalogStats { kind count } }"
    ok(await run(slow, query, limited(execution_timeout_s=5)))
    assert slow.finished == 1
    result = await run(slow, query, limited(execution_timeout_s=0.05))
    assert slow.finished == 1, "answered at the deadline, not when the store was done"
    rejected(result, "TIMEOUT", "query exceeded the execution timeout of 0.05 s")


# -- introspection --------------------------------------------------------------------------


async def test_introspection_can_be_switched_off(embedded: EmbeddedStore) -> None:
    ok(await run(embedded, "{ __schema { queryType { name } } }", Settings()))
    off = Settings(introspection=False)
    result = await run(embedded, "{ __type(name: \"Query\") { name } }", off)
    assert result.data is None and result.errors is not None
    assert result.errors[0].message == (
        "GraphQL introspection has been disabled, but the requested query contained the field "
        "'__type'."
    )
    assert {e.extensions["code"] for e in result.errors} == {"GRAPHQL_VALIDATION_FAILED"}
    ok(await run(embedded, "{ catalogStats { __typename kind } }", off))


async def test_graphiqls_introspection_query_fits_the_default_limits(
    embedded: EmbeddedStore,
) -> None:
    query = graphql.get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    ok(await run(embedded, query, Settings()))


# -- extensions -----------------------------------------------------------------------------


def test_extensions_are_fresh_per_request_and_rules_stable() -> None:
    """No instance is shared between requests, and the validation rules added are the same
    classes each time, so strawberry's validation cache keeps hitting."""
    schema = build_schema(Settings(introspection=False))
    first, second = schema.get_extensions(), schema.get_extensions()
    assert not {id(e) for e in first} & {id(e) for e in second}

    def rules(extensions: list[Any]) -> list[Any]:
        return [r for e in extensions if isinstance(e, AddValidationRules) for r in e.validation_rules]

    assert rules(first) and rules(first) == rules(second)
