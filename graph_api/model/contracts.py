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
    "unit": "Business unit of a federated entity (its peer's unit); null for the hub's own.",
    "provenance": "JSON of a federated entity: peer, unit, originalRef, syncedAt; a merged "
    "entity adds `copies` (every unit's copy, winner first) and `fields` (field -> peer).",
}


# What sources state besides entities (git repositories: packages, documents, code owners,
# activity), and each source's recorded state. Keys and properties as both stores write them.
FACT_NODES: dict[str, dict[str, Any]] = {
    "Package": {
        "key": "purl",
        "properties": {
            "purl": "Package URL (purl spec); with @version when the version is certain.",
            "ecosystem": "purl type: pypi, npm, golang, cargo, maven.",
            "name": "Name as matched: PEP 503 for PyPI, lower-case npm, group:artifact Maven.",
            "version": "Pinned or locked version; null when only a requirement is known.",
        },
        "shared": "By every source that uses it; removed when no USES_PACKAGE edge is left.",
    },
    "Document": {
        "key": "id",
        "properties": {
            "id": "`<source>#<path>`.",
            "source": "Source key of the repository holding it.",
            "kind": "README, DOCS (TechDocs page), RUNBOOK or ADR.",
            "path": "Path in the repository.",
            "title": "First heading, else the file name.",
            "url": "Blob URL of the file.",
            "text": "The text (at most 200,000 characters).",
            "search_text": "Lower-cased title and text, for word search.",
            "meta": "JSON: MADR status, date, decision_makers.",
        },
    },
    "CodeOwnership": {
        "key": "id",
        "properties": {
            "id": "`<source>\\n<ref>`.",
            "source": "Source key of the repository whose CODEOWNERS said it.",
            "ref": "The entity (a Component) it is about.",
            "owners": "Handles as written: @org/team, @user, e-mail.",
            "file": "The CODEOWNERS file.",
            "line": "Line of the deciding rule.",
            "pattern": "Pattern of the deciding rule.",
        },
    },
    "Activity": {
        "key": "source",
        "properties": {
            "source": "Source key of the repository.",
            "repository": "Web URL of the repository.",
            "branch": "Branch read (HEAD's).",
            "head": "Commit read.",
            "last_commit_at": "Commit time of head (UTC, ISO 8601).",
            "commits": "JSON [[unix time, author hash]] of the 90 days before loading.",
        },
    },
    "SourceState": {
        "key": "source",
        "properties": {
            "source": "Source key.",
            "state": "JSON: what the source was read at (git: head, branch, config, "
            "dependencies), the hash of each kind of fact, and the number of rejections; for a "
            "peer (`peer:<name>`): its changes cursor and, per original ref held, the digest, "
            "same-as keys and the targets that did not resolve inside its unit.",
        },
    },
}
FACT_RELATIONSHIPS: dict[str, dict[str, Any]] = {
    "USES_PACKAGE": {
        "from": "Entity",
        "to": "Package",
        "properties": {
            "source": "Source key that stated it.",
            "requirement": "Version requirement as written.",
            "scope": "runtime, dev, optional:<extra>, group:<name>, test, build, peer, ...",
            "manifest": "Blob URL of the manifest.",
        },
    },
    "DOCUMENTS": {
        "from": "Document",
        "to": "Entity",
        "properties": {"source": "Source key that stated it."},
    },
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


_COST_PROPERTIES = {
    "source": "Source key of the cost source that gave the fact (focus:<path>, opencost:...).",
    "entity": "Ref of the component, system or team the cost is attributed to; null: unallocated.",
    "resource": "Ref of the Resource whose ResourceId the bill lines carried, if catalogued.",
    "category": "FOCUS ServiceCategory.",
    "provider": "FOCUS ServiceProviderName / ProviderName.",
    "account": "SubAccountId, else BillingAccountId.",
    "service": "FOCUS ServiceName, kept on unallocated facts only.",
    "currency": "FOCUS BillingCurrency (ISO 4217).",
    **{
        f"{metric}_{part}": f"{column}: whole {part} (same sign), exact when recombined."
        for metric, column in (
            ("effective", "EffectiveCost"),
            ("billed", "BilledCost"),
            ("list", "ListCost"),
        )
        for part in ("units", "nanos")
    },
}
# Cost: daily facts (not bill lines), their monthly rollup, and what each cost source gave.
COST_NODES: dict[str, dict[str, Any]] = {
    "CostFact": {
        "key": "id (store-assigned); replaced whole per source",
        "properties": {"day": "UTC day of ChargePeriodStart.", **_COST_PROPERTIES},
    },
    "CostMonth": {
        "key": "id (store-assigned); replaced whole per source",
        "properties": {"month": "First day of the month.", **_COST_PROPERTIES},
    },
    "CostSource": {
        "key": "source",
        "properties": {
            "source": "Source key.",
            "hash": "Content hash of its facts: an unchanged re-load writes nothing.",
            "lines": "Input lines read.",
            "facts": "Facts written.",
            "first_day": "First day covered.",
            "last_day": "Last day covered.",
            "loaded_at": "When it was last written (UTC, ISO 8601).",
        },
    },
}


# Federation: the other IDPs this hub merges (see federation/ and README "Federation").
FEDERATION_NODES: dict[str, dict[str, Any]] = {
    "Peer": {
        "key": "name",
        "properties": {
            "name": "Peer name; its entities come from source `peer:<name>`.",
            "kind": "devgraph, backstage or file.",
            "url": "GraphQL base URL, Backstage base URL, or export file path.",
            "unit": "Business unit its entities belong to (their namespace `<unit>` or "
            "`<unit>--<namespace>`).",
            "token_env": "Name of the environment variable holding its token (never the token).",
            "interval": "Seconds between background syncs under `devgraph serve`.",
            "precedence": "Higher wins when entities of several units are merged as the same.",
            "status": "OK, STALE, HELD or ERROR; null before the first sync.",
            "error": "Why the last sync failed or was held.",
            "last_synced_at": "When the hub last wrote this peer's data or status (UTC).",
            "entity_count": "Entities the hub holds of this peer.",
        },
    },
}


# How federated entities are named, merged and resolved (federation/merge.py implements it).
FEDERATION_RULES: dict[str, str] = {
    "source": "Every peer is one source, `peer:<name>`; its unit is one per peer.",
    "namespace": "A peer's entity keeps its kind and name; its namespace becomes `<unit>` when "
    "it was `default` in the peer, `<unit>--<namespace>` otherwise. Units are lower-case DNS "
    "labels without `--`, so the rule is reversible and refs of two units never collide.",
    "resolution": "A ref resolves inside its own unit first; else to the one other unit (or "
    "the hub itself) that defines it, as a cross-unit edge; with two or more it is reported "
    "as ambiguous and left unresolved in its own unit.",
    "same_as": "Copies of one kind in several units sharing `devgraph.io/same-as` (then the "
    "only key), `backstage.io/source-location` (without `url:` and trailing `/`) or "
    "`github.com/project-slug` (lower case) are one entity; a key two entities of one unit "
    "share is ignored.",
    "precedence": "A merged entity takes ref, kind and name from the copy of the peer with the "
    "highest precedence (then name); each metadata key, label, annotation and spec key (with "
    "the relations it declares) from the highest-ranked copy that has it; "
    "`provenance.fields` names the peer of each.",
}


# Findings and dependency health, joined to entities and packages by value (entity, purl).
FINDING_NODES: dict[str, dict[str, Any]] = {
    "Finding": {
        "key": "id",
        "properties": {
            "id": "Hash of source, entity and fingerprint.",
            "source": "Source key: sarif:<entity>:<tool>[:<category>], sbom:<format>:<entity>, "
            "osv:<path>.",
            "entity": "Ref of the entity it is about.",
            "kind": "CODE, VULNERABILITY or LICENSE.",
            "tool": "The tool that found it (SARIF driver name, SBOM tool, osv, license-policy).",
            "rule": "Rule id, advisory id, or license-denied / license-review.",
            "fingerprint": "Stable across re-scans: the report's own, else rule + file + code.",
            "severity": "CRITICAL, HIGH, MEDIUM, LOW or INFO.",
            "status": "OPEN, RESOLVED or SUPPRESSED.",
            "message": "What the report says.",
            "first_seen": "When first reported (UTC, ISO 8601).",
            "last_seen": "Time of the latest report stating it.",
            "resolved_at": "Time of the first report no longer stating it; null while stated.",
            "rule_name": "The rule's name, if the report gives one.",
            "file": "Path of the first location.",
            "line": "Start line of the first location.",
            "package": "Purl of the package a VULNERABILITY or LICENSE finding is about.",
            "advisory": "Vulnerability id of a VULNERABILITY finding.",
            "help_uri": "Where the rule or advisory is explained.",
            "rank": "5 (CRITICAL) to 1 (INFO), for worst-first order.",
        },
    },
    "FindingCount": {
        "key": "entity",
        "properties": {
            "entity": "Ref of an entity with open findings.",
            **{s: f"Open {s.upper()} findings." for s in ("critical", "high", "medium", "low", "info")},
        },
        "shared": "Recounted in the transaction of every findings change to its entities.",
    },
    "PackageDeclaration": {
        "key": "id",
        "properties": {
            "id": "`<source>\\n<purl>`.",
            "source": "Source key of the SBOM.",
            "purl": "The package.",
            "licenses": "JSON [{raw, expression}]: as written, and the SPDX expression if certain.",
            "hashes": "`ALG:hex` content hashes.",
        },
    },
    "Vulnerability": {
        "key": "key",
        "properties": {
            "key": "`<source>\\n<id>\\n<purl>`.",
            "source": "Source key that states it (an SBOM or an OSV load).",
            "id": "OSV, GHSA or CVE id.",
            "purl": "The affected package version.",
            "aliases": "Other ids of the same vulnerability.",
            "summary": "One line.",
            "severity": "CRITICAL to INFO, from the CVSS score or the database's word.",
            "score": "CVSS base score, if given.",
            "fixed": "Versions that fix it.",
        },
    },
    "PackageDependency": {
        "key": "id",
        "properties": {
            "id": "`<source>\\n<purl>\\n<depends_on>`.",
            "source": "Source key of the SBOM.",
            "purl": "The dependent package.",
            "depends_on": "The package it depends on.",
        },
    },
}


def graph_model() -> dict[str, Any]:
    """The node label, its properties and the relationship types both stores implement."""
    return {
        "nodes": {
            "Entity": {
                "key": "ref",
                "properties": NODE_PROPERTIES,
            },
            **FACT_NODES,
            **COST_NODES,
            **FINDING_NODES,
            **FEDERATION_NODES,
        },
        "relationships": {
            rel.value: {
                "from": "Entity",
                "to": "Entity",
                "properties": {"origin": "Ref of the entity whose descriptor declared it."},
                "backstage": {"forward": forward, "inverse": inverse},
            }
            for rel, (forward, inverse) in RELATION_NAMES.items()
        }
        | FACT_RELATIONSHIPS,
        "federation": FEDERATION_RULES,
    }


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=2, sort_keys=True) + "\n"


def main(folder: str = "schema") -> None:
    out = Path(folder)
    (out / DESCRIPTOR_SCHEMA_FILE).write_text(render(descriptor_schema()), encoding="utf-8")
    (out / GRAPH_MODEL_FILE).write_text(render(graph_model()), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
