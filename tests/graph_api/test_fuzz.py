"""Property-based fuzzing of the whole GraphQL schema, queries and mutations, over real HTTP.

hypothesis-graphql writes operations from the schema the server builds; each is sent as the
admin (so every mutation gets past authorization and reaches its validation and the store)
to a real uvicorn server over the demo estate. Whatever it sends, the answer is JSON, never a
5xx, and every error is one a client can act on: no masked internal error, no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
from _server import DemoServer, assert_no_internal_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from graph_api.api.schema import build_schema
from graph_api.api.types import encode_cursor, global_id
from graph_api.settings import Settings

# The executable schema itself, not its SDL: the SDL carries Apollo Federation's @link, which
# a plain SDL parser does not know.
SCHEMA = build_schema(Settings())._schema
# Derandomized and without an example database: CI runs the same operations every time.
BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
# Entities of the demo estate, so lookups, traversals and deletes also reach real ones.
KNOWN_REFS = st.sampled_from(
    [
        "component:default/auth-service",
        "component:default/api-gateway",
        "api:default/auth-api",
        "resource:default/orders-db",
        "system:default/payments-core",
        "domain:default/commerce",
        "group:default/payments",
    ]
)
REFS = KNOWN_REFS | NAMES | st.text(max_size=12)
# Cursors the API hands out, and forged ones far past the end of any list.
CURSORS = st.integers(min_value=0, max_value=10**7).map(encode_cursor)
JSON_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | st.text(max_size=16),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(JSON_KEYS, children, max_size=3)
    ),
    max_leaves=8,
)
# Mostly descriptor-shaped, so upsertEntities gets past "not a mapping" into field validation,
# ref resolution, ownership checks and the store write.
DESCRIPTORS = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["backstage.io/v1alpha1", "backstage.io/v1beta1", "v1"]),
        "kind": st.sampled_from(["Component", "API", "System", "Group", "Resource", "Gadget"]),
        "metadata": st.fixed_dictionaries(
            {"name": NAMES}, optional={"namespace": NAMES, "tags": st.lists(NAMES, max_size=2)}
        ),
    },
    optional={
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["service", "website", "team", "openapi"]),
                "lifecycle": st.sampled_from(["production", "experimental"]),
                "owner": REFS,
                "system": REFS,
                "dependsOn": st.lists(REFS, max_size=3),
                "definition": st.text(max_size=20),
            },
        )
    },
)


def value_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal, as a client would inline it."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([value_node(v) for v in value])
    fields = [
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=value_node(v))
        for k, v in value.items()
    ]
    return nodes.Object(fields)


# A scalar without a strategy of its own (one added after this file) gets text, decimal text
# and integers: its parser decides which are valid, and refusing the rest is what is tested.
ANY_SCALAR = (
    st.text(max_size=12) | st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str)
).map(nodes.String) | st.integers(-(2**31), 2**31 - 1).map(nodes.Int)
BUILT_IN = set(graphql.specified_scalar_types)
# Built-in scalars too: hypothesis-graphql's own strings would almost never name an entity or
# a page. A non-null JSON argument given null is a schema violation: the negative test has those.
CUSTOM_SCALARS = {
    **{
        name: ANY_SCALAR
        for name, named in SCHEMA.type_map.items()
        if isinstance(named, graphql.GraphQLScalarType) and name not in BUILT_IN
    },
    "JSON": (DESCRIPTORS | JSON_VALUES.filter(lambda v: v is not None)).map(value_node),
    "String": (REFS | CURSORS).map(nodes.String),
    "ID": (KNOWN_REFS.map(global_id) | st.text(max_size=12)).map(nodes.String),
}


def send(client: httpx.Client, query: str) -> None:
    response = client.post("/graphql", json={"query": query})
    assert_no_internal_error(response)
    assert isinstance(response.json(), dict), response.text


@pytest.fixture(scope="module")
def client(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with demo_server.client() as http:
        yield http


@settings(BOUNDED, max_examples=400)
@given(query=from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS))
def test_valid_operations_never_fail_internally(client: httpx.Client, query: str) -> None:
    send(client, query)


@settings(BOUNDED, max_examples=200)
@given(query=from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE))
def test_operations_violating_the_schema_are_refused_cleanly(
    client: httpx.Client, query: str
) -> None:
    send(client, query)
