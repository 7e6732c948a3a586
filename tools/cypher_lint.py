"""Offline Neo4j Cypher checker (Neo4j's parser + semantic analysis, no database).

Thin wrapper over ``tools/cypher-lint/lint.mjs``, which uses the npm package
``@neo4j-cypher/language-support``. Set it up once with ``make cypher-lint-deps``
(or ``npm ci --prefix tools/cypher-lint``).

Linting uses an empty schema: unknown labels, relationship types, properties,
functions and procedures are not reported; ``$parameters`` are accepted. The
dialect is CYPHER 5 unless a statement starts with ``CYPHER 25``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

LINT_DIR = Path(__file__).resolve().parent / "cypher-lint"
LINT_SCRIPT = LINT_DIR / "lint.mjs"
_PACKAGE_DIR = LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support"
_SETUP_HINT = "run `make cypher-lint-deps` (or `npm ci --prefix tools/cypher-lint`)"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(f"cypher lint needs Node.js (`node` not found on PATH); install it, then {_SETUP_HINT}")
    if not _PACKAGE_DIR.is_dir():
        raise RuntimeError(f"cypher lint dependencies are not installed ({_PACKAGE_DIR} missing); {_SETUP_HINT}")
    return node


def lint_cypher_report(statements: dict[str, str], *, timeout: float = 300.0) -> dict[str, dict[str, list[dict]]]:
    """Lint all statements in one node process.

    Returns ``{name: {"errors": [...], "warnings": [...]}}`` where each item is
    ``{"message": str, "line": int, "column": int}`` (1-based positions).
    """
    if not statements:
        return {}
    payload = json.dumps([{"name": name, "cypher": cypher} for name, cypher in statements.items()])
    proc = subprocess.run(
        [_node(), str(LINT_SCRIPT)],
        input=payload,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cypher lint crashed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"cypher lint produced invalid output: {proc.stdout[:500]!r}") from exc
    report = {r["name"]: {"errors": r["errors"], "warnings": r["warnings"]} for r in results}
    missing = set(statements) - set(report)
    if missing:
        raise RuntimeError(f"cypher lint returned no result for: {sorted(missing)}")
    return report


def lint_cypher(statements: dict[str, str]) -> dict[str, list[str]]:
    """Return Neo4j syntax/semantic error messages per statement name ([] = clean).

    Warnings (e.g. deprecations) are not included; see ``lint_cypher_report``.
    """
    report = lint_cypher_report(statements)
    return {
        name: [f"{e['message']} (line {e['line']}, column {e['column']})" for e in report[name]["errors"]]
        for name in statements
    }


if __name__ == "__main__":  # python tools/cypher_lint.py 'MATCH (n) RETURN m' ...
    import sys

    out = lint_cypher({f"arg{i}": q for i, q in enumerate(sys.argv[1:], 1)})
    print(json.dumps(out, indent=2))
    sys.exit(1 if any(out.values()) else 0)
