"""What the server logs of a GraphQL error: a client's mistake is routine, the server's own
failure is an incident with its traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from graph_api.api.context import RequestContext
from graph_api.api.schema import build_schema
from graph_api.security import Policy, Viewer
from graph_api.store import GraphStore
from graph_api.store.embedded import EmbeddedStore

SCHEMA = build_schema()
READER = Viewer(name="rita", role="viewer", team="group:default/platform", authenticated=True)


class ExplodingStore:
    """Every store call fails as a bug or a lost database would."""

    def __getattr__(self, name: str) -> Any:
        async def explode(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"store exploded in {name}")

        return explode


async def run(store: Any, query: str, viewer: Viewer, **variables: Any) -> list[Any]:
    context = RequestContext(store=store, viewer=viewer, policy=Policy(store))
    result = await SCHEMA.execute(query, variable_values=variables or None, context_value=context)
    assert result.errors
    return result.errors


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("strawberry")]


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        pytest.param(
            "mutation { upsertEntities(descriptors: []) { added } }",
            {},
            "FORBIDDEN",
            id="forbidden",
        ),
        pytest.param('{ entity(ref: "component:") { ref } }', {}, "BAD_USER_INPUT", id="bad-ref"),
        pytest.param(
            '{ component(ref: "nobody") { ref } blastRadius(ref: "nobody") { total } }',
            {},
            "NOT_FOUND",
            id="not-found",
        ),
        pytest.param("{ nope }", {}, "UNSPECIFIED", id="unknown-field"),
        pytest.param("{ entity(", {}, "UNSPECIFIED", id="syntax"),
        pytest.param(
            "query($r: String!) { entity(ref: $r) { ref } }",
            {"r": 5},
            "UNSPECIFIED",
            id="variable-type",
        ),
    ],
)
async def test_a_client_error_is_logged_as_info_without_a_traceback(
    embedded: EmbeddedStore,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    code: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors = await run(embedded, query, READER, **variables)
    assert [e.extensions.get("code", "UNSPECIFIED") for e in errors] == [code]
    records = logged(caplog)
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.INFO, None)]
    assert code in records[0].getMessage() and errors[0].message in records[0].getMessage()


async def test_a_server_failure_is_logged_as_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store: GraphStore = ExplodingStore()  # type: ignore[assignment]
    caplog.set_level(logging.DEBUG)
    (error,) = await run(store, "{ catalogStats { kind count } }", READER)
    assert error.message == "Unexpected error."
    (record,) = logged(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and "store exploded" in str(record.exc_info[1])
