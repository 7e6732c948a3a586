"""Apollo Federation tooling for tests: composition (``@apollo/composition``) and a gateway
(``@apollo/gateway`` with ``IntrospectAndCompose``), run with Node.js from
``tools/federation``. Set it up once with ``make federation-deps`` (or
``npm ci --prefix tools/federation``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TOOLS_DIR = Path(__file__).resolve().parent / "federation"
_SETUP_HINT = "run `make federation-deps` (or `npm ci --prefix tools/federation`)"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(f"Apollo tooling needs Node.js (`node` not on PATH); then {_SETUP_HINT}")
    if not (TOOLS_DIR / "node_modules" / "@apollo" / "gateway").is_dir():
        raise RuntimeError(f"Apollo tooling is not installed; {_SETUP_HINT}")
    return node


def compose(subgraphs: list[dict[str, str]], *, timeout: float = 120.0) -> dict[str, Any]:
    """Compose ``[{name, url, sdl}]`` into a supergraph: ``{errors, hints, supergraphSdl}``."""
    done = subprocess.run(
        [_node(), str(TOOLS_DIR / "compose.mjs")],
        input=json.dumps(subgraphs),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"composition crashed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@contextlib.contextmanager
def gateway(subgraphs: list[dict[str, Any]], *, timeout: float = 60.0) -> Iterator[str]:
    """An Apollo Gateway over ``[{name, url, headers?}]`` on loopback; yields its URL."""
    with subprocess.Popen(
        [_node(), str(TOOLS_DIR / "gateway.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps({"subgraphs": subgraphs}))
            process.stdin.close()
            line = process.stdout.readline()
            if not line:
                stderr = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"the gateway did not start: {stderr.strip()[-2000:]}")
            yield str(json.loads(line)["url"])
        finally:
            process.kill()
            process.wait(timeout=timeout)
