"""The contracts in schema/ are generated from the code; they must not drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_api.model import RelationType
from graph_api.model.contracts import (
    DESCRIPTOR_SCHEMA_FILE,
    GRAPH_MODEL_FILE,
    descriptor_schema,
    graph_model,
    render,
)
from graph_api.store._facts import (
    ACTIVITY_FIELDS,
    CODE_OWNER_FIELDS,
    DOCUMENT_FIELDS,
    PACKAGE_FIELDS,
    USE_FIELDS,
)
from graph_api.store._records import ENTITY_FIELDS

SCHEMA = Path(__file__).resolve().parents[3] / "schema"
REGENERATE = "python -m graph_api.model.contracts schema"


@pytest.mark.parametrize(
    ("name", "build"), [(DESCRIPTOR_SCHEMA_FILE, descriptor_schema), (GRAPH_MODEL_FILE, graph_model)]
)
def test_committed_contract_matches_code(name: str, build: object) -> None:
    committed = (SCHEMA / name).read_text(encoding="utf-8")
    assert committed == render(build()), f"schema/{name} is stale: run `{REGENERATE}`"  # type: ignore[operator]


def test_graph_model_documents_every_stored_property_and_relation() -> None:
    model = graph_model()
    assert set(model["nodes"]["Entity"]["properties"]) == set(ENTITY_FIELDS)
    assert set(model["relationships"]) == {r.value for r in RelationType} | {
        "USES_PACKAGE",
        "DOCUMENTS",
    }
    stored = {
        "Package": PACKAGE_FIELDS,
        "Document": DOCUMENT_FIELDS,
        "CodeOwnership": CODE_OWNER_FIELDS,
        "Activity": ACTIVITY_FIELDS,
        "SourceState": ("source", "state"),
    }
    for label, fields in stored.items():
        assert set(model["nodes"][label]["properties"]) == set(fields), label
    uses = set(model["relationships"]["USES_PACKAGE"]["properties"])
    assert uses == set(USE_FIELDS) - {"ref", "purl"}


def test_descriptor_schema_accepts_what_the_loader_accepts(tmp_path: Path) -> None:
    schema = descriptor_schema()
    assert schema["required"] == ["apiVersion", "kind", "metadata"]
    component_rule = next(
        rule for rule in schema["allOf"] if "Component" in rule["if"]["properties"]["kind"]["pattern"]
    )
    spec_def = schema["$defs"][component_rule["then"]["properties"]["spec"]["$ref"].split("/")[-1]]
    assert set(spec_def["required"]) == {"type", "lifecycle", "owner"}
