"""Every statement of the Neo4j store passes Neo4j's own parser and semantic analysis, offline."""

from __future__ import annotations

from graph_api.model import RelationType
from graph_api.store.neo4j import all_statements
from graph_api.store.port import Direction
from tools.cypher_lint import lint_cypher


def test_every_statement_lints_clean() -> None:
    statements = all_statements()
    errors = {name: found for name, found in lint_cypher(statements).items() if found}
    for name, found in errors.items():
        print(f"{name}:\n  {statements[name]}\n  " + "\n  ".join(found))
    assert not errors, (
        f"{len(errors)} of {len(statements)} statements have errors: {sorted(errors)}"
    )


def test_statements_cover_every_relation_and_direction() -> None:
    names = set(all_statements())
    for relation in RelationType:
        rel = relation.value
        assert {f"create_edges[{rel}]", f"edges_among[{rel}]", f"all_edges[{rel}]"} <= names
        for direction in Direction:
            key = f"{rel},{direction.value}"
            assert {f"related[{key}]", f"reachable[{key}]", f"shortest_path[{key}]"} <= names
