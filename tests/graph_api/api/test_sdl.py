"""The committed SDL matches the schema, and every root field has a test.

``schema/devgraph.graphql`` is the contract clients and reviewers read: a change to the
schema shows up as a diff of that file in the same commit.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from graph_api.api.schema import build_schema

ROOT = Path(__file__).resolve().parents[3]
SDL = ROOT / "schema" / "devgraph.graphql"
QUERY_TESTS = Path(__file__).with_name("test_queries.py")
# Root fields of one domain may be tested in that domain's own file.
DOMAIN_QUERY_TESTS = [
    Path(__file__).with_name("test_git_queries.py"),
    Path(__file__).with_name("test_cost_queries.py"),
    Path(__file__).with_name("test_findings_queries.py"),
    Path(__file__).with_name("test_federation_queries.py"),
]
REGENERATE = (
    '.venv/bin/python -c "from pathlib import Path; from graph_api.api.schema import build_schema; '
    "Path('schema/devgraph.graphql').write_text(build_schema().as_str() + '\\n')\""
)


def current_sdl() -> str:
    return build_schema().as_str() + "\n"


def test_committed_sdl_matches_the_schema() -> None:
    assert SDL.is_file(), (
        f"{SDL} is missing; generate it from the repository root with:\n{REGENERATE}"
    )
    committed = SDL.read_text(encoding="utf-8")
    current = current_sdl()
    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile="schema/devgraph.graphql (committed)",
                tofile="build_schema().as_str()",
            )
        )
        raise AssertionError(
            "The schema changed but schema/devgraph.graphql was not regenerated.\n"
            f"Review this diff, then run from the repository root:\n{REGENERATE}\n\n{diff}"
        )


def root_fields() -> dict[str, list[str]]:
    schema = build_schema()._schema
    roots = {"Query": schema.query_type, "Mutation": schema.mutation_type}
    return {name: sorted(t.fields) for name, t in roots.items() if t is not None}


def is_exercised(field: str, text: str) -> bool:
    """Selected in a GraphQL document (``field(`` or ``field {``), or named in a test table."""
    selected = re.search(rf"(?<![\w.]){re.escape(field)}\s*[({{]", text)
    return selected is not None or f'"{field}"' in text


def test_every_root_field_has_a_query_test() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in [QUERY_TESTS, *DOMAIN_QUERY_TESTS])
    fields = root_fields()
    assert "entities" in fields["Query"] and "upsertEntities" in fields["Mutation"]
    untested = [
        f"{root}.{field}"
        for root, names in fields.items()
        for field in names
        if not is_exercised(field, text)
    ]
    files = ", ".join(p.name for p in [QUERY_TESTS, *DOMAIN_QUERY_TESTS])
    assert not untested, f"root fields with no test in {files}: {', '.join(untested)}"


def test_field_check_tells_selection_from_prose() -> None:
    assert is_exercised("blastRadius", '{ blastRadius(ref: "x") { total } }')
    assert is_exercised("catalogStats", "{ catalogStats { kind } }")
    assert is_exercised("users", 'ROOT_PAIRS = [("user", "users")]')
    assert not is_exercised("users", "# users of this API; obj.users(x)")
    assert not is_exercised("api", "component_api(x) api_call(y)")
