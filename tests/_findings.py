"""Real scanner and SBOM tool output made inside the test run, and a small estate to load it
into: shared by the findings loader, store, API and CLI tests.

Nothing here is a recorded fixture: bandit and semgrep scan a code tree the test writes,
``cyclonedx-py environment`` inventories a virtual environment the test builds, and OSV records
are written in the shape the advisory databases publish.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from graph_api.store import GraphStore
from loaders.files import load_files

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SHOP, BILLING, LEGACY = (
    "component:default/shop",
    "component:default/billing",
    "component:default/legacy",
)
ORG, TEAM_A, TEAM_B = "group:default/org", "group:default/team-a", "group:default/team-b"
COMMERCE, RETAIL = "system:default/commerce", "domain:default/retail"

ESTATE = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: org}
spec: {type: organization, children: [team-a, team-b]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: retail}
spec: {owner: org}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: commerce}
spec: {owner: team-a, domain: retail}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop
  annotations:
    github.com/project-slug: acme/shop
spec: {type: service, lifecycle: production, owner: team-a, system: commerce}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: billing
  annotations:
    backstage.io/source-location: url:https://github.com/acme/billing/tree/main/
spec: {type: service, lifecycle: production, owner: team-b, system: commerce}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: legacy}
spec: {type: library, lifecycle: deprecated, owner: team-b}
"""


async def load_estate(store: GraphStore, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog-info.yaml").write_text(ESTATE.lstrip(), encoding="utf-8")
    (report,) = await load_files(store, [folder], fetch_remote=False)
    assert report.ok and len(report.added) == 8, report.rejected


# -- code scanners ----------------------------------------------------------------------------
VULNERABLE = {
    "app/run.py": """
        import subprocess


        def run(command):
            return subprocess.call(command, shell=True)


        def evaluate(text):
            return eval(text)
    """,
    "app/store.py": """
        import pickle


        def load(blob):
            return pickle.loads(blob)
    """,
}
SEMGREP_RULES = """
rules:
  - id: no-eval
    pattern: eval(...)
    message: eval() runs arbitrary code
    languages: [python]
    severity: ERROR
  - id: pickle-loads
    pattern: pickle.loads(...)
    message: unpickling untrusted data runs arbitrary code
    languages: [python]
    severity: WARNING
"""


def write_code(folder: Path, files: dict[str, str] = VULNERABLE) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def _run(command: list[str], cwd: Path, out: Path) -> Path:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    # Scanners exit 1 when they find something; anything else is a failure of the tool.
    assert done.returncode in (0, 1) and out.is_file(), done.stderr[-2000:]
    return out


def bandit_sarif(code: Path, out: Path) -> Path:
    """``bandit -f sarif`` over the tree, paths relative to it."""
    return _run([str(BIN / "bandit"), "-q", "-r", "-f", "sarif", "-o", str(out), "app"], code, out)


def semgrep_binary() -> Path:
    """Semgrep from its own venv (``make`` builds .venv-semgrep) or $DEVGRAPH_SEMGREP."""
    found = Path(os.environ.get("DEVGRAPH_SEMGREP", ROOT / ".venv-semgrep" / "bin" / "semgrep"))
    if not found.is_file():
        found = Path(shutil.which("semgrep") or found)
    if not found.is_file():
        pytest.skip("semgrep not installed: `make .venv-semgrep/bin/semgrep` builds its venv")
    return found


def semgrep_sarif(code: Path, out: Path) -> Path:
    """``semgrep --config LOCAL_RULES.yml --metrics=off --sarif``: offline, local rules only."""
    # Semgrep prefixes rule ids with the config file's folder: keep it beside the tree.
    (code / "rules.yml").write_text(SEMGREP_RULES.lstrip(), encoding="utf-8")
    env = {**os.environ, "SEMGREP_SEND_METRICS": "off", "HOME": str(code.parent)}
    command = [
        str(semgrep_binary()),
        "scan",
        "--config",
        "rules.yml",
        "--metrics=off",
        "--sarif",
        "--disable-version-check",
        "--quiet",
        "--output",
        str(out),
        "app",
    ]
    done = subprocess.run(
        command, cwd=code, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert done.returncode in (0, 1) and out.is_file(), done.stderr[-2000:]
    return out


# -- SBOMs ------------------------------------------------------------------------------------
def fake_environment(folder: Path, packages: dict[str, tuple[str, list[str]]]) -> Path:
    """A virtual environment whose installed distributions are ``{name: (version, metadata
    lines)}``: what pip leaves in site-packages, without needing the (old) wheels offline."""
    if not (folder / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    (site,) = folder.glob("lib/python3*/site-packages")
    for old in site.glob("*.dist-info"):
        shutil.rmtree(old)
    for name, (version, lines) in packages.items():
        info = site / f"{name.lower()}-{version}.dist-info"
        info.mkdir()
        metadata = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *lines]
        (info / "METADATA").write_text("\n".join(metadata) + "\n", encoding="utf-8")
        (info / "RECORD").write_text(f"{info.name}/METADATA,,\n", encoding="utf-8")
        (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
    return folder / "bin" / "python"


def cyclonedx_sbom(python: Path, out: Path, *, project: Path | None = None) -> Path:
    """``cyclonedx-py environment`` of that interpreter's environment, as CycloneDX 1.6 JSON."""
    command = [
        str(BIN / "cyclonedx-py"),
        "environment",
        "--of",
        "JSON",
        "--sv",
        "1.6",
        "-o",
        str(out),
    ]
    if project is not None:
        command += ["--pyproject", str(project)]
    done = subprocess.run(
        [*command, str(python)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


# -- OSV --------------------------------------------------------------------------------------
def osv_record(
    vuln_id: str,
    ecosystem: str,
    name: str,
    events: list[dict[str, str]],
    *,
    aliases: list[str] = (),  # type: ignore[assignment]
    vector: str | None = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N",
    versions: list[str] = (),  # type: ignore[assignment]
    withdrawn: str | None = None,
    range_type: str = "ECOSYSTEM",
) -> dict[str, Any]:
    """A record as OSV.dev and the GitHub Advisory Database publish them (schema 1.6)."""
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": "2024-05-01T12:00:00Z",
        "published": "2019-04-10T14:30:24Z",
        "aliases": list(aliases),
        "summary": f"{name} is vulnerable",
        "details": f"Versions of {name} before the fix are affected.",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": range_type, "events": events}],
                "versions": list(versions),
                "database_specific": {"source": "https://example.org/advisory.json"},
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{vuln_id}"}],
        "database_specific": {"severity": "MODERATE", "github_reviewed": True},
    }
    if vector:
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    if withdrawn:
        record["withdrawn"] = withdrawn
    return record


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
