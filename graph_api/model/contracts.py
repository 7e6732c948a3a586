"""Machine-readable contracts committed under ``schema/``: regenerate with
``python -m graph_api.model.contracts schema/``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from graph_api.model.entity import (
    KIND_NAMES,
    RELATION_NAMES,
    SPEC_MODELS,
    Metadata,
)

DESCRIPTOR_SCHEMA_FILE = "catalog-descriptor.schema.json"
GRAPH_MODEL_FILE = "graph-model.json"

NODE_PROPERTIES: dict[str, str] = {
    "ref": "Canonical lower-case `kind:namespace/name`; unique key.",
    "kind": "Kind as written by Backstage (Component, API, ...) or the custom kind.",
    "namespace": "metadata.namespace",
    "name": "metadata.name, case preserved",
    "title": "metadata.title",
    "description": "metadata.description",
    "type": "spec.type",
    "lifecycle": "spec.lifecycle",
    "owner": "Canonical ref of the owner (the OWNED_BY target).",
    "system": "Canonical ref of the system the entity is part of.",
    "domain": "Canonical ref of the domain a System (or parent of a Domain) is part of.",
    "tags": "metadata.tags",
    "annotation_keys": "Keys of metadata.annotations, for filtering.",
    "annotation_pairs": "`key=value` of metadata.annotations, for filtering.",
    "search_text": "Lower-cased name, title, description and tags, for text search.",
    "descriptor": "The descriptor as loaded, JSON text.",
    "source": "Source key that defines the entity (a path, a repository, `api`).",
    "location": "Where the source defined it (`file:line`, ...).",
    "hash": "Content hash of the descriptor; unchanged hash means nothing to write.",
    "stub": "True for a ref that relations point at but no source defines.",
    "updated_at": "When the entity last changed (UTC, ISO 8601).",
}


def descriptor_schema() -> dict[str, Any]:
    """JSON Schema of one catalog descriptor, generated from the validating models."""
    kinds: list[dict[str, Any]] = []
    defs: dict[str, Any] = {"Metadata": Metadata.model_json_schema()}
    for key, model in SPEC_MODELS.items():
        name = f"{KIND_NAMES[key]}Spec"
        defs[name] = model.model_json_schema()
        kinds.append(
            {
                "if": {"properties": {"kind": {"pattern": f"(?i)^{KIND_NAMES[key]}$"}}},
                "then": {"properties": {"spec": {"$ref": f"#/$defs/{name}"}}, "required": ["spec"]},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://devgraph.dev/schema/catalog-descriptor.schema.json",
        "title": "Backstage-compatible catalog descriptor",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]+$"},
            "kind": {"type": "string", "minLength": 1},
            "metadata": {"$ref": "#/$defs/Metadata"},
            "spec": {"type": "object"},
        },
        "allOf": kinds,
        "$defs": defs,
    }


def graph_model() -> dict[str, Any]:
    """The node label, its properties and the relationship types both stores implement."""
    return {
        "nodes": {
            "Entity": {
                "key": "ref",
                "properties": NODE_PROPERTIES,
            }
        },
        "relationships": {
            rel.value: {
                "from": "Entity",
                "to": "Entity",
                "properties": {"origin": "Ref of the entity whose descriptor declared it."},
                "backstage": {"forward": forward, "inverse": inverse},
            }
            for rel, (forward, inverse) in RELATION_NAMES.items()
        },
    }


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=2, sort_keys=True) + "\n"


def main(folder: str = "schema") -> None:
    out = Path(folder)
    (out / DESCRIPTOR_SCHEMA_FILE).write_text(render(descriptor_schema()), encoding="utf-8")
    (out / GRAPH_MODEL_FILE).write_text(render(graph_model()), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
