"""Schemathesis, as a second and independent fuzzer, against the running server.

``schemathesis run http://127.0.0.1:PORT/graphql`` recognises GraphQL by the URL's
``/graphql`` suffix and loads the schema by an introspection query sent with the given headers
(``schemathesis.cli.loaders.is_probably_graphql``); every root field, query and mutation, is
then one operation it fuzzes, with valid and with schema-violating arguments.

This file is also the run's hooks file (``SCHEMATHESIS_HOOKS`` names it): the CLI generates
GraphQL's built-in scalars only, and it needs a check that knows devgraph's error codes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemathesis
from _server import assert_no_internal_error
from hypothesis import strategies as st
from schemathesis.graphql import nodes

if TYPE_CHECKING:
    from _server import DemoServer

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
# Small JSON values for upsertEntities' descriptors (tests/graph_api/test_fuzz.py sends
# descriptor-shaped ones); schemathesis only needs them to be well-formed literals.
schemathesis.graphql.scalar(
    "JSON",
    (
        st.text(max_size=12).map(nodes.String)
        | st.integers(-1000, 1000).map(nodes.Int)
        | st.booleans().map(nodes.Boolean)
    ),
)


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    """No 5xx, and no error the API would only give for its own failure."""
    assert_no_internal_error(response)


# The checks, chosen for GraphQL-over-HTTP semantics:
# - no_internal_error replaces not_a_server_error, which takes any error that has a `path` and
#   an error code outside Apollo's list for a server failure: devgraph's NOT_FOUND (an unknown
#   ref, the client's mistake) would fail it.
# - positive_data_acceptance is left out: a schema-valid argument may still be invalid input
#   (`after: ""` is not a cursor, `ref: ""` names nothing), which the type system cannot say
#   and which the API rightly refuses with BAD_USER_INPUT.
# - response_schema_conformance (a JSON object, no null in a non-null field) and
#   negative_data_rejection (schema-violating operations get errors) apply as they are.
CHECKS = "no_internal_error,response_schema_conformance,negative_data_rejection"
MAX_EXAMPLES = 20
TIME_LIMIT_S = 60


def test_schemathesis_finds_no_failure(demo_server: DemoServer, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{demo_server.base}/graphql",
        "--header",
        f"Authorization: Bearer {demo_server.admin}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        # The same operations on every run (derandomized), and no example database left behind.
        "--generation-deterministic",
        "--request-timeout",
        "15",
        "--no-color",
    ]
    # The hooks file imports the shared test helpers, as pytest does; the repository comes
    # first, or tests/graph_api (a namespace package there) would shadow the real graph_api.
    path = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": __file__, "PYTHONPATH": path}
    # Schemathesis's --max-time is a budget it spends in full; the bound here is the timeout.
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=TIME_LIMIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"Specification:\s+GraphQL", done.stdout), done.stdout[-2000:]
