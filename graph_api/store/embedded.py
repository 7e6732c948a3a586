"""The embedded store: Ladybug in-process, one database file, no server.

Every Cypher statement this store runs is in this module. Ladybug allows one write transaction
at a time and fails a second writer at once, so writes go through one thread and one lock;
reads run concurrently on a small pool of connections.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import ladybug
import pyarrow as pa

from graph_api.model import RelationType
from graph_api.model.cost import CostDimension, CostMetric
from graph_api.model.findings import Severity
from graph_api.store._cache import MISSING, GenerationCache, listing_key
from graph_api.store._cost import (
    FACT_COLUMNS,
    MONTH_COLUMNS,
    amount_query,
    amounts_from_rows,
    month_rollup,
    source_span,
    sum_amounts,
    with_source,
)
from graph_api.store._facts import (
    ACTIVITY_FIELDS,
    CODE_OWNER_FIELDS,
    DOCUMENT_FIELDS,
    DOCUMENT_RETURN_FIELDS,
    PACKAGE_FIELDS,
    USE_FIELDS,
    FactReads,
    activity_row,
    code_owner_rows,
    document_rows,
    package_rows,
    state_text,
)
from graph_api.store._findings import (
    COUNT_FIELDS,
    DECLARATION_FIELDS,
    DEPENDENCY_FIELDS,
    FINDING_FIELDS,
    FINDING_ORDER,
    FINDING_ROW_FIELDS,
    VULNERABILITY_FIELDS,
    FindingReads,
    count_rows,
    declaration_rows,
    dependency_rows,
    touched_entities,
    vulnerability_rows,
)
from graph_api.store._records import (
    ENTITY_FIELDS,
    ORDER_CLAUSES,
    PEER_FIELDS,
    RECORD_FIELDS,
    TOKEN_FIELDS,
    audit_event_from_values,
    audit_row,
    batched,
    entity_row,
    filter_clause,
    now_iso,
    reached_from_rows,
    record_from_values,
    relation_rows,
    stub_row,
    unresolved_relations,
)
from graph_api.store.port import (
    ApiToken,
    AuditEvent,
    ChangeSet,
    Claim,
    CostAmount,
    CostFilter,
    CostSet,
    CostSourceRecord,
    Direction,
    EntityFilter,
    EntityOrder,
    EntityRecord,
    PeerRecord,
    Reached,
    ReachGroup,
    StoreError,
)

T = TypeVar("T")
log = logging.getLogger("devgraph.store")

BATCH = 5000
ARROW_BATCH = 50_000
_LIST_FIELDS = frozenset({"tags", "annotation_keys", "annotation_pairs"})
_RETURN = ", ".join(f"e.{f}" for f in RECORD_FIELDS)
_CREATE_PROPS = ", ".join(f"{f}: {f}" for f in ENTITY_FIELDS)
_SET_PROPS = ", ".join(f"e.{f} = {f}" for f in ENTITY_FIELDS if f != "ref")
# Bulk rows travel as Arrow tables scanned with LOAD FROM: 3-6x faster than UNWIND over a list
# of Python dicts, which converts every value through the binding one by one.
_LIST = pa.list_(pa.string())
_ENTITY_ARROW = pa.schema(
    [
        (f, pa.bool_() if f == "stub" else _LIST if f in _LIST_FIELDS else pa.string())
        for f in ENTITY_FIELDS
    ]
)
_EDGE_ARROW = pa.schema([("s", pa.string()), ("t", pa.string()), ("o", pa.string())])
_NODE_COLUMNS = (
    "ref STRING PRIMARY KEY, kind STRING, namespace STRING, name STRING, title STRING, "
    "description STRING, type STRING, lifecycle STRING, owner STRING, system STRING, "
    "domain STRING, tags STRING[], annotation_keys STRING[], annotation_pairs STRING[], "
    "search_text STRING, descriptor STRING, source STRING, location STRING, hash STRING, "
    "stub BOOLEAN, updated_at STRING, unit STRING, provenance STRING"
)
_TOKEN_RETURN = ", ".join(f"t.{f}" for f in TOKEN_FIELDS)
_PEER_RETURN = ", ".join(f"p.{f}" for f in PEER_FIELDS)
_PACKAGE_ARROW = pa.schema([(f, pa.string()) for f in PACKAGE_FIELDS])
_USE_ARROW = pa.schema([(f, pa.string()) for f in USE_FIELDS])
_DOCUMENT_ARROW = pa.schema([(f, pa.string()) for f in DOCUMENT_FIELDS])
_LINK_ARROW = pa.schema([("id", pa.string()), ("ref", pa.string()), ("source", pa.string())])
_CODE_OWNER_ARROW = pa.schema(
    [
        (f, _LIST if f == "owners" else pa.int64() if f == "line" else pa.string())
        for f in CODE_OWNER_FIELDS
    ]
)
_PACKAGE_RETURN = ", ".join(f"p.{f}" for f in PACKAGE_FIELDS)
_USE_RETURN = (
    "e.ref, p.purl, p.ecosystem, p.name, p.version, r.requirement, r.scope, r.manifest, r.source"
)
_DOCUMENT_RETURN = ", ".join(f"d.{f}" for f in DOCUMENT_RETURN_FIELDS)
_ACTIVITY_RETURN = ", ".join(f"a.{f}" for f in ACTIVITY_FIELDS)
_AUDIT_RETURN = "a.id, a.at, a.actor, a.action, a.source, a.changes"
_FINDING_ARROW = pa.schema(
    [(f, pa.int64() if f in ("line", "rank") else pa.string()) for f in FINDING_ROW_FIELDS]
)
_COUNT_ARROW = pa.schema([(f, pa.string() if f == "entity" else pa.int64()) for f in COUNT_FIELDS])
_DECLARATION_ARROW = pa.schema(
    [(f, _LIST if f == "hashes" else pa.string()) for f in DECLARATION_FIELDS]
)
_VULNERABILITY_ARROW = pa.schema(
    [
        (f, _LIST if f in ("aliases", "fixed") else pa.float64() if f == "score" else pa.string())
        for f in VULNERABILITY_FIELDS
    ]
)
_DEPENDENCY_ARROW = pa.schema([(f, pa.string()) for f in DEPENDENCY_FIELDS])
_FINDING_RETURN = ", ".join(f"f.{f}" for f in FINDING_FIELDS)
_COUNT_RETURN = ", ".join(f"c.{f}" for f in COUNT_FIELDS)
_ARROWS = {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-"), Direction.BOTH: ("-", "-")}
# Cost keys and amounts, after an id the store assigns (SERIAL) and the source key.
_COST_COLUMNS = (
    "id SERIAL PRIMARY KEY, source STRING, {time} DATE, entity STRING, resource STRING, "
    "category STRING, provider STRING, account STRING, service STRING, currency STRING, "
    "effective_units INT64, effective_nanos INT64, billed_units INT64, billed_nanos INT64, "
    "list_units INT64, list_nanos INT64"
)

# Longer entity lists are filtered in Python (see cost_amounts).
_IN_LIMIT = 64
# The month of a daily cost fact, a fragment of cost queries.
_FACT_MONTH = "date_trunc('month', f.day)"


DEFAULT_CHECKPOINT_MIB = 512


class Cypher:
    """Every statement of the embedded store (Ladybug dialect)."""

    SCHEMA = [
        f"CREATE NODE TABLE IF NOT EXISTS Entity({_NODE_COLUMNS})",
        # Stores created before federation lack these columns.
        "ALTER TABLE Entity ADD IF NOT EXISTS unit STRING",
        "ALTER TABLE Entity ADD IF NOT EXISTS provenance STRING",
        "CREATE NODE TABLE IF NOT EXISTS Peer(name STRING PRIMARY KEY, kind STRING, url STRING, "
        "unit STRING, token_env STRING, interval INT64, precedence INT64, status STRING, "
        "error STRING, last_synced_at STRING, entity_count INT64)",
        f"CREATE NODE TABLE IF NOT EXISTS CostFact({_COST_COLUMNS.format(time='day')})",
        f"CREATE NODE TABLE IF NOT EXISTS CostMonth({_COST_COLUMNS.format(time='month')})",
        "CREATE NODE TABLE IF NOT EXISTS CostSource(source STRING PRIMARY KEY, hash STRING, "
        "lines INT64, facts INT64, first_day DATE, last_day DATE, loaded_at STRING)",
        "CREATE NODE TABLE IF NOT EXISTS AuditEvent(id STRING PRIMARY KEY, at STRING, "
        "actor STRING, action STRING, source STRING, refs STRING[], changes STRING)",
        "CREATE NODE TABLE IF NOT EXISTS ApiToken(id STRING PRIMARY KEY, name STRING, "
        "team STRING, role STRING, hash STRING, created_at STRING, expires_at STRING, "
        "revoked_at STRING)",
        *(
            f"CREATE REL TABLE IF NOT EXISTS {rel.value}(FROM Entity TO Entity, origin STRING)"
            for rel in RelationType
        ),
        "CREATE NODE TABLE IF NOT EXISTS SourceState(source STRING PRIMARY KEY, state STRING)",
        "CREATE NODE TABLE IF NOT EXISTS Package(purl STRING PRIMARY KEY, ecosystem STRING, "
        "name STRING, version STRING)",
        "CREATE REL TABLE IF NOT EXISTS USES_PACKAGE(FROM Entity TO Package, source STRING, "
        "requirement STRING, scope STRING, manifest STRING)",
        "CREATE NODE TABLE IF NOT EXISTS Document(id STRING PRIMARY KEY, source STRING, "
        "kind STRING, path STRING, title STRING, url STRING, text STRING, search_text STRING, "
        "meta STRING)",
        "CREATE REL TABLE IF NOT EXISTS DOCUMENTS(FROM Document TO Entity, source STRING)",
        "CREATE NODE TABLE IF NOT EXISTS CodeOwnership(id STRING PRIMARY KEY, source STRING, "
        "ref STRING, owners STRING[], file STRING, line INT64, pattern STRING)",
        "CREATE NODE TABLE IF NOT EXISTS Activity(source STRING PRIMARY KEY, repository STRING, "
        "branch STRING, head STRING, last_commit_at STRING, commits STRING)",
        "CREATE NODE TABLE IF NOT EXISTS Finding(id STRING PRIMARY KEY, source STRING, "
        "entity STRING, kind STRING, tool STRING, rule STRING, fingerprint STRING, "
        "severity STRING, status STRING, message STRING, first_seen STRING, last_seen STRING, "
        "resolved_at STRING, rule_name STRING, file STRING, line INT64, package STRING, "
        "advisory STRING, help_uri STRING, rank INT64)",
        # Open findings per entity and severity, kept in step with Finding by every write:
        # summaries for a team's hundreds of components are then primary-key lookups.
        "CREATE NODE TABLE IF NOT EXISTS FindingCount(entity STRING PRIMARY KEY, "
        "critical INT64, high INT64, medium INT64, low INT64, info INT64)",
        "CREATE NODE TABLE IF NOT EXISTS PackageDeclaration(id STRING PRIMARY KEY, "
        "source STRING, purl STRING, licenses STRING, hashes STRING[])",
        "CREATE NODE TABLE IF NOT EXISTS Vulnerability(key STRING PRIMARY KEY, source STRING, "
        "id STRING, purl STRING, aliases STRING[], summary STRING, severity STRING, "
        "score DOUBLE, fixed STRING[])",
        "CREATE NODE TABLE IF NOT EXISTS PackageDependency(id STRING PRIMARY KEY, "
        "source STRING, purl STRING, depends_on STRING)",
    ]
    PING = "RETURN 1"
    EXISTING = "UNWIND $refs AS r MATCH (e:Entity {ref: r}) RETURN e.ref, e.stub"
    CLAIMS = (
        "UNWIND $refs AS r MATCH (e:Entity {ref: r}) WHERE e.stub = false "
        "RETURN e.ref, e.source, e.location, e.hash"
    )
    SOURCE_CLAIMS = (
        "MATCH (e:Entity) WHERE e.source = $source AND e.stub = false "
        "RETURN e.ref, e.source, e.location, e.hash"
    )
    STUB_NEIGHBOURS = (
        "MATCH (a:Entity)-[r]-(b:Entity) WHERE a.ref IN $refs AND r.origin = a.ref "
        "AND b.stub = true RETURN DISTINCT b.ref"
    )
    DELETE_OUT_EDGES = (
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE a.ref IN $refs AND r.origin = a.ref DELETE r"
    )
    DELETE_IN_EDGES = (
        "MATCH (a:Entity)<-[r]-(b:Entity) WHERE a.ref IN $refs AND r.origin = a.ref DELETE r"
    )
    DEMOTE_TO_STUB = (
        "MATCH (e:Entity) WHERE e.ref IN $refs AND EXISTS { MATCH (e)-[]-() } "
        "SET e.stub = true, e.source = NULL, e.location = NULL, e.hash = NULL, "
        "e.title = NULL, e.description = NULL, e.type = NULL, e.lifecycle = NULL, "
        "e.owner = NULL, e.system = NULL, e.domain = NULL, e.tags = [], "
        "e.annotation_keys = [], e.annotation_pairs = [], e.descriptor = '{}', "
        "e.updated_at = NULL, e.unit = NULL, e.provenance = NULL"
    )
    DELETE_UNLINKED = (
        "MATCH (e:Entity) WHERE e.ref IN $refs AND NOT EXISTS { MATCH (e)-[]-() } DELETE e"
    )
    DELETE_UNLINKED_STUBS = (
        "MATCH (e:Entity) WHERE e.ref IN $refs AND e.stub = true "
        "AND NOT EXISTS { MATCH (e)-[]-() } DELETE e"
    )
    # Not COPY, though it is ~2x faster: Ladybug 0.22 leaves a COPY inside a transaction out of
    # the write-ahead log, so a crash before the checkpoint loses those rows and keeps the rest.
    CREATE_NODES = f"LOAD FROM $rows CREATE (e:Entity {{{_CREATE_PROPS}}})"
    UPDATE_NODES = f"LOAD FROM $rows MATCH (e:Entity {{ref: ref}}) SET {_SET_PROPS}"
    GET = f"UNWIND $refs AS r MATCH (e:Entity {{ref: r}}) RETURN {_RETURN}"
    STATS = "MATCH (e:Entity) WHERE e.stub = false RETURN e.kind, count(*)"
    UNRESOLVED_OUT = (
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE b.stub = true AND r.origin = a.ref "
        "RETURN a.ref, label(r), b.ref"
    )
    UNRESOLVED_IN = (
        "MATCH (a:Entity)<-[r]-(b:Entity) WHERE b.stub = true AND r.origin = a.ref "
        "RETURN a.ref, label(r), b.ref"
    )

    APPEND_AUDIT = (
        "CREATE (a:AuditEvent {id: $id, at: $at, actor: $actor, action: $action, "
        "source: $source, refs: $refs, changes: $changes})"
    )
    PUT_TOKEN = (
        "CREATE (t:ApiToken {id: $id, name: $name, team: $team, role: $role, hash: $hash, "
        "created_at: $created_at, expires_at: $expires_at, revoked_at: $revoked_at})"
    )
    TOKEN_BY_HASH = f"MATCH (t:ApiToken) WHERE t.hash = $hash RETURN {_TOKEN_RETURN}"
    LIST_TOKENS = f"MATCH (t:ApiToken) RETURN {_TOKEN_RETURN} ORDER BY t.created_at, t.id"
    REVOKE_TOKEN = (
        "MATCH (t:ApiToken) WHERE t.id = $id AND t.revoked_at IS NULL "
        "SET t.revoked_at = $at RETURN t.id"
    )
    AUDIT_FILTERS = {"actor": "a.actor = $actor", "ref": "$ref IN a.refs"}
    AUDIT_SINCE = (
        f"MATCH (a:AuditEvent) WHERE a.id > $after RETURN {_AUDIT_RETURN} "
        "ORDER BY a.id LIMIT $limit"
    )
    PUT_PEER = "MERGE (p:Peer {name: $name}) SET " + ", ".join(
        f"p.{f} = ${f}" for f in PEER_FIELDS if f != "name"
    )
    GET_PEERS = f"MATCH (p:Peer) RETURN {_PEER_RETURN} ORDER BY p.name"
    DELETE_PEER = "MATCH (p:Peer) WHERE p.name = $name DELETE p RETURN count(*)"

    # -- cost: daily facts, their monthly rollup, what each source last gave -----------------
    DELETE_COST_FACTS = "MATCH (f:CostFact) WHERE f.source = $source DELETE f"
    DELETE_COST_MONTHS = "MATCH (f:CostMonth) WHERE f.source = $source DELETE f"
    DELETE_COST_SOURCE = "MATCH (s:CostSource) WHERE s.source = $source DELETE s"
    # Not COPY, though it is faster: see CREATE_NODES.
    CREATE_COST_FACTS = (
        f"LOAD FROM $rows CREATE (f:CostFact {{{', '.join(f'{c}: {c}' for c in FACT_COLUMNS)}}})"
    )
    CREATE_COST_MONTHS = (
        f"LOAD FROM $rows CREATE (f:CostMonth {{{', '.join(f'{c}: {c}' for c in MONTH_COLUMNS)}}})"
    )
    CREATE_COST_SOURCE = (
        "CREATE (s:CostSource {source: $source, hash: $hash, lines: $lines, facts: $facts, "
        "first_day: $first_day, last_day: $last_day, loaded_at: $loaded_at})"
    )
    COST_SOURCE = (
        "MATCH (s:CostSource) WHERE s.source = $source "
        "RETURN s.source, s.hash, s.lines, s.facts, s.first_day, s.last_day, s.loaded_at"
    )
    COST_SPAN = "MATCH (s:CostSource) RETURN min(s.first_day), max(s.last_day)"

    # -- source facts: packages, documents, code owners, activity, state ----------------------
    DELETE_SOURCE_USES = (
        "MATCH (e:Entity)-[r:USES_PACKAGE]->(p:Package) WHERE r.source = $source "
        "DELETE r RETURN DISTINCT p.purl"
    )
    DELETE_USES_OF = (
        "MATCH (e:Entity)-[r:USES_PACKAGE]->(p:Package) WHERE e.ref IN $refs "
        "DELETE r RETURN DISTINCT p.purl"
    )
    EXISTING_PACKAGES = "UNWIND $purls AS x MATCH (p:Package {purl: x}) RETURN p.purl"
    CREATE_PACKAGES = (
        "LOAD FROM $rows CREATE (p:Package {purl: purl, ecosystem: ecosystem, name: name, "
        "version: version})"
    )
    CREATE_USES = (
        "LOAD FROM $rows MATCH (e:Entity {ref: ref}) MATCH (p:Package {purl: purl}) "
        "CREATE (e)-[:USES_PACKAGE {source: source, requirement: requirement, scope: scope, "
        "manifest: manifest}]->(p)"
    )
    DELETE_ORPHAN_PACKAGES = (
        "MATCH (p:Package) WHERE p.purl IN $purls "
        "AND NOT EXISTS { MATCH (p)<-[:USES_PACKAGE]-() } DELETE p"
    )
    DELETE_SOURCE_DOCUMENTS = "MATCH (d:Document) WHERE d.source = $source DETACH DELETE d"
    DELETE_DOCUMENT_LINKS_OF = (
        "MATCH (d:Document)-[r:DOCUMENTS]->(e:Entity) WHERE e.ref IN $refs DELETE r"
    )
    CREATE_DOCUMENTS = (
        "LOAD FROM $rows CREATE (d:Document {id: id, source: source, kind: kind, path: path, "
        "title: title, url: url, text: text, search_text: search_text, meta: meta})"
    )
    CREATE_DOCUMENT_LINKS = (
        "LOAD FROM $rows MATCH (d:Document {id: id}) MATCH (e:Entity {ref: ref}) "
        "CREATE (d)-[:DOCUMENTS {source: source}]->(e)"
    )
    DELETE_SOURCE_CODE_OWNERS = "MATCH (c:CodeOwnership) WHERE c.source = $source DELETE c"
    DELETE_CODE_OWNERS_OF = (
        "MATCH (c:CodeOwnership) WHERE c.source = $source AND c.ref IN $refs DELETE c"
    )
    CREATE_CODE_OWNERS = (
        "LOAD FROM $rows CREATE (c:CodeOwnership {id: id, source: source, ref: ref, "
        "owners: owners, file: file, line: line, pattern: pattern})"
    )
    DELETE_ACTIVITY = "MATCH (a:Activity) WHERE a.source = $source DELETE a"
    CREATE_ACTIVITY = (
        "CREATE (a:Activity {source: $source, repository: $repository, branch: $branch, "
        "head: $head, last_commit_at: $last_commit_at, commits: $commits})"
    )
    PUT_STATE = "MERGE (s:SourceState {source: $source}) SET s.state = $state"
    SOURCE_STATES = "MATCH (s:SourceState) WHERE s.source IN $sources RETURN s.source, s.state"
    PACKAGE_USES = (
        "UNWIND $refs AS x MATCH (e:Entity {ref: x})-[r:USES_PACKAGE]->(p:Package) "
        f"RETURN {_USE_RETURN} ORDER BY p.purl, r.manifest"
    )
    PACKAGE_USERS = (
        "UNWIND $purls AS x MATCH (e:Entity)-[r:USES_PACKAGE]->(p:Package {purl: x}) "
        f"RETURN {_USE_RETURN} ORDER BY e.ref, r.manifest"
    )
    GET_PACKAGES = f"UNWIND $purls AS x MATCH (p:Package {{purl: x}}) RETURN {_PACKAGE_RETURN}"
    DOCUMENTS_OF = (
        "UNWIND $refs AS x MATCH (d:Document)-[:DOCUMENTS]->(e:Entity {ref: x}) "
        "RETURN e.ref, d.id ORDER BY d.path, d.id"
    )
    GET_DOCUMENTS = f"UNWIND $ids AS x MATCH (d:Document {{id: x}}) RETURN {_DOCUMENT_RETURN}"
    DOCUMENT_LINKS = (
        "MATCH (d:Document)-[:DOCUMENTS]->(e:Entity) WHERE d.id IN $ids "
        "RETURN d.id, e.ref ORDER BY e.ref"
    )
    CODE_OWNERS = (
        "MATCH (c:CodeOwnership) WHERE c.ref IN $refs "
        "RETURN c.ref, c.owners, c.file, c.line, c.pattern, c.source ORDER BY c.source"
    )
    ACTIVITIES = f"MATCH (a:Activity) WHERE a.source IN $sources RETURN {_ACTIVITY_RETURN}"

    # -- findings and dependency health ------------------------------------------------------
    # ``UNWIND $refs ... WHERE f.entity = r`` plans as one hash join over Finding; ``f.entity
    # IN $refs`` compares every row with every ref and is 10-20x slower for long lists.
    SOURCE_FINDINGS = f"MATCH (f:Finding) WHERE f.source = $source RETURN {_FINDING_RETURN}"
    FINDINGS_OF = f"UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r RETURN {_FINDING_RETURN}"
    # New findings only (the lifecycle diff knows which); not COPY: see CREATE_NODES.
    CREATE_FINDINGS = (
        f"LOAD FROM $rows CREATE (f:Finding {{{', '.join(f'{c}: {c}' for c in FINDING_ROW_FIELDS)}}})"
    )
    UPDATE_FINDINGS = "LOAD FROM $rows MATCH (f:Finding {id: id}) SET " + ", ".join(
        f"f.{f} = {f}" for f in FINDING_ROW_FIELDS if f != "id"
    )
    COUNT_OPEN = (
        "UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r AND f.status = 'OPEN' "
        "RETURN r, f.severity, count(*)"
    )
    DELETE_COUNTS = "UNWIND $refs AS r MATCH (c:FindingCount {entity: r}) DELETE c"
    CREATE_COUNTS = (
        "LOAD FROM $rows CREATE (c:FindingCount {"
        + ", ".join(f"{f}: {f}" for f in COUNT_FIELDS)
        + "})"
    )
    OPEN_COUNTS = f"UNWIND $refs AS r MATCH (c:FindingCount {{entity: r}}) RETURN {_COUNT_RETURN}"
    DELETE_SOURCE_DECLARATIONS = "MATCH (d:PackageDeclaration) WHERE d.source = $source DELETE d"
    CREATE_DECLARATIONS = (
        "LOAD FROM $rows CREATE (d:PackageDeclaration {id: id, source: source, purl: purl, "
        "licenses: licenses, hashes: hashes})"
    )
    DELETE_SOURCE_VULNERABILITIES = "MATCH (v:Vulnerability) WHERE v.source = $source DELETE v"
    CREATE_VULNERABILITIES = (
        "LOAD FROM $rows CREATE (v:Vulnerability {"
        + ", ".join(f"{f}: {f}" for f in VULNERABILITY_FIELDS)
        + "})"
    )
    DELETE_SOURCE_PACKAGE_DEPENDENCIES = (
        "MATCH (d:PackageDependency) WHERE d.source = $source DELETE d"
    )
    CREATE_PACKAGE_DEPENDENCIES = (
        "LOAD FROM $rows CREATE (d:PackageDependency {id: id, source: source, purl: purl, "
        "depends_on: depends_on})"
    )
    PACKAGE_DECLARATIONS = (
        "UNWIND $purls AS x MATCH (d:PackageDeclaration) WHERE d.purl = x "
        "RETURN d.purl, d.licenses, d.hashes, d.source ORDER BY d.source"
    )
    PACKAGE_VULNERABILITIES = (
        "UNWIND $purls AS x MATCH (v:Vulnerability) WHERE v.purl = x RETURN v.source, v.id, "
        "v.purl, v.aliases, v.summary, v.severity, v.score, v.fixed"
    )
    PACKAGE_DEPENDENCIES = (
        "UNWIND $purls AS x MATCH (d:PackageDependency) WHERE d.purl = x "
        "RETURN d.purl, d.depends_on, d.source ORDER BY d.depends_on, d.source"
    )

    @staticmethod
    def finding_count(where: str, scoped: bool) -> str:
        match = (
            "UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r AND"
            if scoped
            else ("MATCH (f:Finding) WHERE")
        )
        return f"{match} {where} RETURN count(f)"

    @staticmethod
    def finding_page(where: str, scoped: bool) -> str:
        match = (
            "UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r AND"
            if scoped
            else ("MATCH (f:Finding) WHERE")
        )
        return (
            f"{match} {where} RETURN {_FINDING_RETURN} "
            f"ORDER BY {FINDING_ORDER} SKIP $offset LIMIT $limit"
        )

    OWNER_CANDIDATE_CLAUSES = {
        "names": "lower(e.name) IN $names",
        "slugs": "any(s IN $slugs WHERE s IN e.annotation_pairs)",
        "emails": "(e.kind = 'User' AND any(m IN $emails WHERE lower(e.descriptor) CONTAINS m))",
    }

    @staticmethod
    def owner_candidates(where: str) -> str:
        return (
            "MATCH (e:Entity) WHERE e.stub = false AND e.kind IN ['Group', 'User'] "
            f"AND ({where}) RETURN {_RETURN}"
        )

    @staticmethod
    def package_count(where: str) -> str:
        return f"MATCH (p:Package) WHERE {where} RETURN count(p)"

    @staticmethod
    def package_page(where: str, paged: bool) -> str:
        ordered = (
            f"MATCH (p:Package) WHERE {where} RETURN {_PACKAGE_RETURN} "
            "ORDER BY p.ecosystem, p.name, p.purl"
        )
        return f"{ordered} SKIP $offset LIMIT $limit" if paged else ordered

    @staticmethod
    def document_count(where: str) -> str:
        return f"MATCH (d:Document) WHERE {where} RETURN count(d)"

    @staticmethod
    def document_page(where: str) -> str:
        return (
            f"MATCH (d:Document) WHERE {where} RETURN {_DOCUMENT_RETURN} "
            "ORDER BY d.source, d.path SKIP $offset LIMIT $limit"
        )

    @staticmethod
    def audit_count(where: str) -> str:
        return f"MATCH (a:AuditEvent) WHERE {where} RETURN count(a)"

    @staticmethod
    def audit_page(where: str) -> str:
        return (
            f"MATCH (a:AuditEvent) WHERE {where} RETURN {_AUDIT_RETURN} "
            "ORDER BY a.id DESC SKIP $offset LIMIT $limit"
        )

    @staticmethod
    def create_edges(relation: RelationType) -> str:
        return (
            "LOAD FROM $rows MATCH (a:Entity {ref: s}) MATCH (b:Entity {ref: t}) "
            f"CREATE (a)-[:{relation.value} {{origin: o}}]->(b)"
        )

    @staticmethod
    def ordered_refs(where: str, order: str) -> str:
        # Refs only: sorting whole rows costs three times as much as sorting refs at 100k
        # entities; a page's records are then fetched by primary key.
        return f"MATCH (e:Entity) WHERE {where} RETURN e.ref ORDER BY {order}"

    @staticmethod
    def related(relation: RelationType, direction: Direction) -> str:
        # Refs only: the entities themselves come from the per-request entity loader, which
        # fetches each distinct one once however many relations lead to it. OPTIONAL MATCH
        # makes the engine look each ref up by primary key and follow its own edges (3 ms for
        # a page of 100 at 100k entities); a plain MATCH after UNWIND scans the whole relation
        # table (120 ms). Refs without such a relation come back with a null target.
        left, right = _ARROWS[direction]
        return (
            "UNWIND $refs AS r MATCH (a:Entity {ref: r}) "
            f"OPTIONAL MATCH (a){left}[:{relation.value}]{right}(e:Entity) "
            "RETURN DISTINCT a.ref, e.ref"
        )

    @staticmethod
    def related_one(relation: RelationType, direction: Direction) -> str:
        # One ref (one entity's field, the usual batch of entity(ref:)) is cheaper still as a
        # plain primary-key match: 0.5 ms where the UNWIND form takes 1.5-7 ms.
        left, right = _ARROWS[direction]
        return (
            f"MATCH (a:Entity {{ref: $ref}}){left}[:{relation.value}]{right}(e:Entity) "
            "RETURN DISTINCT a.ref, e.ref"
        )

    @staticmethod
    def reachable(relation: RelationType, direction: Direction, max_depth: int) -> str:
        left, right = _ARROWS[direction]
        return (
            f"MATCH (a:Entity {{ref: $root}}){left}[p:{relation.value}* SHORTEST "
            f"1..{max_depth}]{right}(e:Entity) RETURN e.ref, length(p), e.owner"
        )

    @staticmethod
    def reach_counts(
        relation: RelationType, direction: Direction, max_depth: int, group: ReachGroup
    ) -> str:
        left, right = _ARROWS[direction]
        key = "length(p)" if group is ReachGroup.DEPTH else "e.owner"
        return (
            f"MATCH (a:Entity {{ref: $root}}){left}[p:{relation.value}* SHORTEST "
            f"1..{max_depth}]{right}(e:Entity) WHERE e.ref <> $root RETURN {key}, count(*)"
        )

    @staticmethod
    def edges_among(relation: RelationType) -> str:
        return (
            f"MATCH (a:Entity)-[:{relation.value}]->(b:Entity) "
            "WHERE a.ref IN $refs AND b.ref IN $refs RETURN DISTINCT a.ref, b.ref"
        )

    @staticmethod
    def all_edges(relation: RelationType) -> str:
        return f"MATCH (a:Entity)-[:{relation.value}]->(b:Entity) RETURN DISTINCT a.ref, b.ref"

    @staticmethod
    def shortest_path(relation: RelationType, direction: Direction, max_depth: int) -> str:
        left, right = _ARROWS[direction]
        return (
            f"MATCH p = (a:Entity {{ref: $from_ref}}){left}[:{relation.value}* SHORTEST "
            f"1..{max_depth}]{right}(b:Entity {{ref: $to_ref}}) "
            "RETURN list_transform(nodes(p), n -> n.ref)"
        )


class EmbeddedStore(FactReads, FindingReads):
    """Ladybug-backed :class:`~graph_api.store.GraphStore`.

    Args:
        path: a folder; the database file lives inside it.
        read_only: open without the write lock, e.g. for a second process.
        readers: size of the read connection pool.
        buffer_pool_mib: the database's page cache; Ladybug's own default is 80% of the
            machine's memory, which a long-lived server or a big load would grow into.
        checkpoint_mib: how large the write-ahead log grows before it is checkpointed into
            the database file. Ladybug's default checkpoints at almost every commit; a sync
            of five peers (five commits) took 31 s with it and 25 s at 512 MiB, close
            included. A commit is durable either way: the log is on disk.
    """

    name = "embedded"
    cypher = Cypher

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        readers: int = 4,
        buffer_pool_mib: int | None = None,
        checkpoint_mib: int = DEFAULT_CHECKPOINT_MIB,
    ) -> None:
        self.path = Path(path)
        self._buffer_pool_bytes = (buffer_pool_mib or 0) * 1024 * 1024
        self._checkpoint_bytes = checkpoint_mib * 1024 * 1024
        self.read_only = read_only
        self._readers = readers
        self._db: ladybug.Database | None = None
        self._local = threading.local()
        self._read_pool: ThreadPoolExecutor | None = None
        self._write_pool: ThreadPoolExecutor | None = None
        self._write_lock = asyncio.Lock()
        self._connections: list[ladybug.Connection] = []
        self._connections_lock = threading.Lock()
        self.calls = 0
        self.writes = 0
        # Odd while a write runs; see graph_api/store/_cache.py. A read-only process cannot
        # tell when another writes the file: it stays odd, so it keeps nothing it read.
        self._generation = 1 if read_only else 0
        self._listings: GenerationCache[list[str]] = GenerationCache(1_000_000, len)
        self._records: GenerationCache[EntityRecord | None] = GenerationCache(50_000)
        self._relations: GenerationCache[list[str]] = GenerationCache(
            500_000, lambda refs: len(refs) + 1
        )
        self._reach_counts: GenerationCache[dict[Any, int]] = GenerationCache(
            100_000, lambda counts: len(counts) + 1
        )

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self) -> None:
        if self._db is not None:
            return
        if not self.read_only:
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open_database()
        except RuntimeError as exc:
            raise StoreError(f"cannot open the embedded store at {self.path}: {exc}") from exc
        self._read_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="devgraph-read")
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="devgraph-write")
        if not self.read_only:
            await self._write(self._create_schema)

    def _open_database(self) -> ladybug.Database:
        file = self.path / "catalog.lbug"
        try:
            return ladybug.Database(
                str(file),
                read_only=self.read_only,
                buffer_pool_size=self._buffer_pool_bytes,
                checkpoint_threshold=self._checkpoint_bytes,
            )
        except RuntimeError as exc:
            wal = file.with_name(file.name + ".wal")
            if self.read_only or "WAL" not in str(exc) or not wal.exists():
                raise
        # A process killed while writing leaves a torn log tail: the transaction it belonged to
        # never committed. Keep the log for inspection, then replay only what did commit.
        kept = wal.with_name(f"{wal.name}.torn-{int(time.time())}")
        shutil.copy2(wal, kept)
        log.warning("store %s: write-ahead log was torn by a crash; kept a copy at %s", file, kept)
        return ladybug.Database(
            str(file),
            buffer_pool_size=self._buffer_pool_bytes,
            checkpoint_threshold=self._checkpoint_bytes,
            throw_on_wal_replay_failure=False,
        )

    async def close(self) -> None:
        for pool in (self._read_pool, self._write_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._read_pool = self._write_pool = None
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    async def ping(self) -> bool:
        try:
            rows = await self._read(Cypher.PING)
        except StoreError:
            return False
        return rows == [[1]]

    # -- plumbing ---------------------------------------------------------------------------
    def _connection(self) -> ladybug.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._db is None:
                raise StoreError("the embedded store is closed")
            conn = ladybug.Connection(self._db)
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _execute(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        result = self._connection().execute(query, params or {})
        rows: list[list[Any]] = result.get_all()  # type: ignore[union-attr]
        return rows

    async def _read(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        if self._read_pool is None:
            raise StoreError("the embedded store is not open")
        self.calls += 1
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._read_pool, self._execute, query, params)
        except RuntimeError as exc:
            raise StoreError(str(exc)) from exc

    async def _write(self, work: Callable[[], T]) -> T:
        if self.read_only:
            raise StoreError("the embedded store is open read-only")
        if self._write_pool is None:
            raise StoreError("the embedded store is not open")
        async with self._write_lock:
            self.calls += 1
            self.writes += 1
            self._generation += 1
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._write_pool, work)
            finally:
                self._generation += 1

    def _create_schema(self) -> None:
        conn = self._connection()
        for statement in Cypher.SCHEMA:
            conn.execute(statement)

    def _transaction(self, work: Callable[[], None]) -> None:
        conn = self._connection()
        conn.execute("BEGIN TRANSACTION")
        try:
            work()
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except RuntimeError:
                pass  # Ladybug already rolled back the failed transaction itself.
            if isinstance(exc, RuntimeError) and not isinstance(exc, StoreError):
                raise StoreError(f"write rolled back: {exc}") from exc
            raise
        conn.execute("COMMIT")

    # -- writes -----------------------------------------------------------------------------
    async def apply(self, change: ChangeSet) -> None:
        if change.empty and change.audit is None:
            return
        await self._write(lambda: self._transaction(lambda: self._apply(change)))

    def _apply(self, change: ChangeSet) -> None:
        run = self._execute
        stamp = now_iso()
        # Fact edges go first: an entity being deleted must be left with relations only.
        orphan_candidates = self._remove_facts(change)
        upsert_refs = [p.entity.ref for p in change.upserts]
        existing: set[str] = set()
        for chunk in batched(upsert_refs, BATCH):
            existing.update(row[0] for row in run(Cypher.EXISTING, {"refs": list(chunk)}))
        # Refs whose own declared edges are replaced: updated ones and deleted ones.
        replaced = [r for r in upsert_refs if r in existing] + list(change.deletes)
        stub_candidates: set[str] = set()
        for chunk in batched(replaced, BATCH):
            params = {"refs": list(chunk)}
            stub_candidates.update(row[0] for row in run(Cypher.STUB_NEIGHBOURS, params))
            run(Cypher.DELETE_OUT_EDGES, params)
            run(Cypher.DELETE_IN_EDGES, params)
        for chunk in batched(list(change.deletes), BATCH):
            params = {"refs": list(chunk)}
            run(Cypher.DEMOTE_TO_STUB, params)
            run(Cypher.DELETE_UNLINKED, params)
        created = [p for p in change.upserts if p.entity.ref not in existing]
        updated = [p for p in change.upserts if p.entity.ref in existing]
        # Rows are made a chunk at a time: all of them at once, at 100k entities, held as
        # much memory again as the entities themselves.
        for statement, placed in ((Cypher.CREATE_NODES, created), (Cypher.UPDATE_NODES, updated)):
            for chunk in batched(placed, ARROW_BATCH):
                rows = [entity_row(p, change.source, stamp) for p in chunk]
                run(statement, {"rows": _table(rows, _ENTITY_ARROW)})
        edges = relation_rows(change.upserts)
        known = existing | {p.entity.ref for p in created}
        targets = sorted(
            {e[end] for rows in edges.values() for e in rows for end in ("s", "t")} - known
        )
        present: set[str] = set()
        for chunk in batched(targets, BATCH):
            present.update(row[0] for row in run(Cypher.EXISTING, {"refs": list(chunk)}))
        stubs = [stub_row(ref) for ref in targets if ref not in present]
        for chunk in batched(stubs, ARROW_BATCH):
            run(Cypher.CREATE_NODES, {"rows": _table(chunk, _ENTITY_ARROW)})
        for relation, rows in edges.items():
            for chunk in batched(rows, ARROW_BATCH):
                run(Cypher.create_edges(relation), {"rows": _table(chunk, _EDGE_ARROW)})
        for chunk in batched(sorted(stub_candidates), BATCH):
            run(Cypher.DELETE_UNLINKED_STUBS, {"refs": list(chunk)})
        self._write_facts(change)
        self._write_findings(change)
        if change.facts.cost is not None:
            self._write_cost(change.source, change.facts.cost)
        for chunk in batched(sorted(orphan_candidates), BATCH):
            run(Cypher.DELETE_ORPHAN_PACKAGES, {"purls": list(chunk)})
        if change.state is not None:
            run(Cypher.PUT_STATE, {"source": change.source, "state": state_text(change.state)})
        if change.audit is not None:
            run(Cypher.APPEND_AUDIT, audit_row(change.audit))

    def _remove_facts(self, change: ChangeSet) -> set[str]:
        """Drop the facts ``change`` replaces or whose entity it deletes; return the purls that
        may have lost their last user."""
        run = self._execute
        facts = change.facts
        source = {"source": change.source}
        touched: set[str] = set()
        if facts.packages is not None:
            touched.update(row[0] for row in run(Cypher.DELETE_SOURCE_USES, source))
        for chunk in batched(list(change.deletes), BATCH):
            touched.update(row[0] for row in run(Cypher.DELETE_USES_OF, {"refs": list(chunk)}))
            run(Cypher.DELETE_DOCUMENT_LINKS_OF, {"refs": list(chunk)})
            run(Cypher.DELETE_CODE_OWNERS_OF, {**source, "refs": list(chunk)})
        if facts.documents is not None:
            run(Cypher.DELETE_SOURCE_DOCUMENTS, source)
        if facts.code_owners is not None:
            run(Cypher.DELETE_SOURCE_CODE_OWNERS, source)
        if facts.activity is not None:
            run(Cypher.DELETE_ACTIVITY, source)
        return touched

    def _write_facts(self, change: ChangeSet) -> None:
        run = self._execute
        facts = change.facts
        if facts.packages is not None:
            packages, uses = package_rows(facts.packages, change.source)
            present: set[str] = set()
            for chunk in batched([p["purl"] for p in packages], BATCH):
                found = run(Cypher.EXISTING_PACKAGES, {"purls": list(chunk)})
                present.update(row[0] for row in found)
            new = [p for p in packages if p["purl"] not in present]
            for chunk in batched(new, ARROW_BATCH):
                run(Cypher.CREATE_PACKAGES, {"rows": _table(chunk, _PACKAGE_ARROW)})
            for chunk in batched(uses, ARROW_BATCH):
                run(Cypher.CREATE_USES, {"rows": _table(chunk, _USE_ARROW)})
        if facts.documents is not None:
            nodes, links = document_rows(facts.documents, change.source)
            for chunk in batched(nodes, BATCH):
                run(Cypher.CREATE_DOCUMENTS, {"rows": _table(chunk, _DOCUMENT_ARROW)})
            for chunk in batched(links, ARROW_BATCH):
                run(Cypher.CREATE_DOCUMENT_LINKS, {"rows": _table(chunk, _LINK_ARROW)})
        if facts.code_owners is not None:
            rows = code_owner_rows(facts.code_owners, change.source)
            for chunk in batched(rows, ARROW_BATCH):
                run(Cypher.CREATE_CODE_OWNERS, {"rows": _table(chunk, _CODE_OWNER_ARROW)})
        if facts.activity is not None:
            run(Cypher.CREATE_ACTIVITY, activity_row(facts.activity))

    def _write_findings(self, change: ChangeSet) -> None:
        """Findings and what SBOMs and advisories state of packages; see ``SourceFacts``."""
        run = self._execute
        facts = change.facts
        source = {"source": change.source}
        replaced = (
            (
                facts.declarations,
                Cypher.DELETE_SOURCE_DECLARATIONS,
                Cypher.CREATE_DECLARATIONS,
                declaration_rows,
                _DECLARATION_ARROW,
            ),
            (
                facts.vulnerabilities,
                Cypher.DELETE_SOURCE_VULNERABILITIES,
                Cypher.CREATE_VULNERABILITIES,
                vulnerability_rows,
                _VULNERABILITY_ARROW,
            ),
            (
                facts.package_dependencies,
                Cypher.DELETE_SOURCE_PACKAGE_DEPENDENCIES,
                Cypher.CREATE_PACKAGE_DEPENDENCIES,
                dependency_rows,
                _DEPENDENCY_ARROW,
            ),
        )
        for items, delete, create, to_rows, schema in replaced:
            if items is None:
                continue
            run(delete, source)
            for chunk in batched(to_rows(items, change.source), ARROW_BATCH):
                run(create, {"rows": _table(chunk, schema)})
        if facts.findings is None:
            return
        for statement, findings in (
            (Cypher.CREATE_FINDINGS, facts.findings.created),
            (Cypher.UPDATE_FINDINGS, facts.findings.updated),
        ):
            for chunk in batched(findings, ARROW_BATCH):
                run(statement, {"rows": _finding_table(chunk)})
        entities = touched_entities([*facts.findings.created, *facts.findings.updated])
        for chunk in batched(entities, BATCH):
            refs = {"refs": list(chunk)}
            counts = count_rows(run(Cypher.COUNT_OPEN, refs), chunk)
            run(Cypher.DELETE_COUNTS, refs)
            if counts:
                run(Cypher.CREATE_COUNTS, {"rows": _table(counts, _COUNT_ARROW)})

    def _write_cost(self, source: str, cost: CostSet) -> None:
        run = self._execute
        params = {"source": source}
        for statement in (
            Cypher.DELETE_COST_FACTS,
            Cypher.DELETE_COST_MONTHS,
            Cypher.DELETE_COST_SOURCE,
        ):
            run(statement, params)
        facts = with_source(cost.facts, source)
        if facts.num_rows:
            run(Cypher.CREATE_COST_FACTS, {"rows": facts})
            run(Cypher.CREATE_COST_MONTHS, {"rows": month_rollup(facts)})
        first_day, last_day = source_span(facts)
        run(
            Cypher.CREATE_COST_SOURCE,
            {
                **params,
                "hash": cost.hash,
                "lines": cost.lines,
                "facts": facts.num_rows,
                "first_day": first_day,
                "last_day": last_day,
                "loaded_at": now_iso(),
            },
        )

    async def source_claims(self, source: str) -> dict[str, Claim]:
        rows = await self._read(Cypher.SOURCE_CLAIMS, {"source": source})
        return {ref: Claim(source=src, location=loc, hash=digest) for ref, src, loc, digest in rows}

    async def claims(self, refs: Sequence[str]) -> dict[str, Claim]:
        found: dict[str, Claim] = {}
        for chunk in batched(list(refs), BATCH):
            for ref, source, location, digest in await self._read(
                Cypher.CLAIMS, {"refs": list(chunk)}
            ):
                found[ref] = Claim(source=source, location=location, hash=digest)
        return found

    # -- reads ------------------------------------------------------------------------------
    async def get_entities(self, refs: Sequence[str]) -> list[EntityRecord | None]:
        if not refs:
            return []
        generation = self._generation
        found = {ref: self._records.get(ref, generation) for ref in refs}
        wanted = [ref for ref, record in found.items() if record is MISSING]
        if wanted:
            rows = await self._read(Cypher.GET, {"refs": wanted})
            read: dict[str, EntityRecord | None] = dict.fromkeys(wanted)
            read.update((row[0], record_from_values(row)) for row in rows)
            for ref, record in read.items():
                self._records.put(ref, generation, record)
            found.update(read)
        return [found[ref] for ref in refs]

    async def find_entities(
        self,
        where: EntityFilter,
        order: EntityOrder,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[EntityRecord], int]:
        # Listing by ref after a ref (how changes(since: null) pages) is the listing without
        # it, from the first ref past it: one kept list serves every page.
        after = where.ref_after if order is EntityOrder.REF and not descending else None
        clause, params = filter_clause(replace(where, ref_after=None) if after else where)
        order_text = ORDER_CLAUSES[order.value]
        if descending:
            order_text = ", ".join(f"{part} DESC" for part in order_text.split(", "))
        refs = await self._ordered_refs(clause, params, order_text)
        first = bisect_right(refs, after) if after else 0
        start = first + offset
        page = refs[start : start + limit] if limit > 0 else []
        records = await self.get_entities(page) if page else []
        return [r for r in records if r is not None], len(refs) - first

    async def _ordered_refs(self, clause: str, params: dict[str, Any], order: str) -> list[str]:
        key = listing_key(clause, params, order)
        generation = self._generation
        refs = self._listings.get(key, generation)
        if refs is MISSING:
            rows = await self._read(Cypher.ordered_refs(clause, order), params)
            refs = [row[0] for row in rows]
            self._listings.put(key, generation, refs)
        return refs

    async def related(
        self, refs: Sequence[str], relation: RelationType, direction: Direction
    ) -> dict[str, list[str]]:
        generation = self._generation
        result = {ref: self._relations.get((relation, direction, ref), generation) for ref in refs}
        wanted = [ref for ref, targets in result.items() if targets is MISSING]
        if not wanted:
            return result
        if len(wanted) == 1:
            statement, params = Cypher.related_one(relation, direction), {"ref": wanted[0]}
        else:
            statement, params = Cypher.related(relation, direction), {"refs": wanted}
        rows = await self._read(statement, params)
        read: dict[str, list[str]] = {ref: [] for ref in wanted}
        for source, target in sorted(row for row in rows if row[1] is not None):
            read[source].append(target)
        for ref, targets in read.items():
            self._relations.put((relation, direction, ref), generation, targets)
        result.update(read)
        return result

    async def unresolved_refs(self) -> list[tuple[str, str, str]]:
        outgoing = await self._read(Cypher.UNRESOLVED_OUT)
        incoming = await self._read(Cypher.UNRESOLVED_IN)
        return unresolved_relations(outgoing, incoming)

    async def reachable(
        self, root: str, relation: RelationType, direction: Direction, max_depth: int
    ) -> list[Reached]:
        rows = await self._read(
            Cypher.reachable(relation, direction, _depth(max_depth)), {"root": root}
        )
        return reached_from_rows(root, rows)

    async def reach_counts(
        self,
        root: str,
        relation: RelationType,
        direction: Direction,
        max_depth: int,
        group: ReachGroup,
    ) -> dict[int | str | None, int]:
        key = (root, relation, direction, max_depth, group)
        generation = self._generation
        counts = self._reach_counts.get(key, generation)
        if counts is MISSING:
            statement = Cypher.reach_counts(relation, direction, _depth(max_depth), group)
            rows = await self._read(statement, {"root": root})
            counts = {value: int(count) for value, count in rows}
            self._reach_counts.put(key, generation, counts)
        return dict(counts)

    async def edges_among(
        self, refs: Sequence[str], relation: RelationType
    ) -> list[tuple[str, str]]:
        if not refs:
            return []
        rows = await self._read(Cypher.edges_among(relation), {"refs": list(set(refs))})
        return sorted((a, b) for a, b in rows)

    async def shortest_path(
        self, start: str, end: str, relation: RelationType, direction: Direction, max_depth: int
    ) -> list[str] | None:
        if start == end:
            return [start]
        rows = await self._read(
            Cypher.shortest_path(relation, direction, _depth(max_depth)),
            {"from_ref": start, "to_ref": end},
        )
        return list(rows[0][0]) if rows else None

    async def all_edges(
        self, relation: RelationType, scope: Sequence[str] | None = None
    ) -> list[tuple[str, str]]:
        if scope is not None:
            return await self.edges_among(scope, relation)
        rows = await self._read(Cypher.all_edges(relation))
        return sorted((a, b) for a, b in rows)

    async def stats(self) -> dict[str, int]:
        rows = await self._read(Cypher.STATS)
        return {kind: int(n) for kind, n in rows}

    # -- cost -------------------------------------------------------------------------------
    async def cost_source(self, source: str) -> CostSourceRecord | None:
        rows = await self._read(Cypher.COST_SOURCE, {"source": source})
        return CostSourceRecord(*rows[0]) if rows else None

    async def cost_amounts(
        self, where: CostFilter, by: Sequence[CostDimension], metric: CostMetric
    ) -> list[CostAmount]:
        if where.entities is not None and len(where.entities) > _IN_LIMIT:
            # Ladybug tests IN against every list item in turn: for long lists, sum per
            # entity over the attributed facts and keep the wanted ones here.
            wanted = set(where.entities)
            unfiltered = replace(where, entities=None, allocated=True)
            found = await self.cost_amounts(unfiltered, [CostDimension.ENTITY, *by], metric)
            return sum_amounts(a for a in found if a.key[0] in wanted)
        query, params = amount_query(where, by, metric, fact_month=_FACT_MONTH)
        return amounts_from_rows(await self._read(query, params), len(by))

    async def cost_span(self) -> tuple[date, date] | None:
        first, last = (await self._read(Cypher.COST_SPAN))[0]
        return (first, last) if first is not None else None

    # -- security ---------------------------------------------------------------------------
    async def audit_events(
        self, *, actor: str | None, ref: str | None, offset: int, limit: int
    ) -> tuple[list[AuditEvent], int]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        for name, value in (("actor", actor), ("ref", ref)):
            if value is not None:
                clauses.append(Cypher.AUDIT_FILTERS[name])
                params[name] = value
        where = " AND ".join(clauses)
        total = (await self._read(Cypher.audit_count(where), params))[0][0]
        if limit <= 0 or offset >= total:  # ladybug segfaults on ORDER BY with SKIP past the end
            return [], int(total)
        rows = await self._read(
            Cypher.audit_page(where), {**params, "offset": offset, "limit": limit}
        )
        return [audit_event_from_values(row) for row in rows], int(total)

    async def audit_since(self, after: str | None, limit: int) -> list[AuditEvent]:
        rows = await self._read(Cypher.AUDIT_SINCE, {"after": after or "", "limit": limit})
        return [audit_event_from_values(row) for row in rows]

    # -- federation -------------------------------------------------------------------------
    async def put_peer(self, peer: PeerRecord) -> None:
        params = {f: getattr(peer, f) for f in PEER_FIELDS}
        await self._write(lambda: self._execute(Cypher.PUT_PEER, params))

    async def get_peers(self) -> list[PeerRecord]:
        return [PeerRecord(*row) for row in await self._read(Cypher.GET_PEERS)]

    async def delete_peer(self, name: str) -> bool:
        rows = await self._write(lambda: self._execute(Cypher.DELETE_PEER, {"name": name}))
        return bool(rows and rows[0][0])

    async def put_token(self, token: ApiToken) -> None:
        params = {f: getattr(token, f) for f in TOKEN_FIELDS}
        await self._write(lambda: self._execute(Cypher.PUT_TOKEN, params))

    async def token_by_hash(self, digest: str) -> ApiToken | None:
        rows = await self._read(Cypher.TOKEN_BY_HASH, {"hash": digest})
        return ApiToken(*rows[0]) if rows else None

    async def list_tokens(self) -> list[ApiToken]:
        return [ApiToken(*row) for row in await self._read(Cypher.LIST_TOKENS)]

    async def revoke_token(self, token_id: str, at: str) -> bool:
        rows = await self._write(
            lambda: self._execute(Cypher.REVOKE_TOKEN, {"id": token_id, "at": at})
        )
        return bool(rows)


def _finding_table(findings: Sequence[Any]) -> pa.Table:
    # Column by column: 3x faster than a table from row dicts at 100k findings.
    columns = {name: [getattr(f, name) for f in findings] for name in FINDING_FIELDS}
    columns["rank"] = [Severity(f.severity).rank for f in findings]
    return pa.table(columns, schema=_FINDING_ARROW)


def _table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    # Column by column: 2x faster than Table.from_pylist, which looks every row up by name.
    return pa.table({name: [row.get(name) for row in rows] for name in schema.names}, schema=schema)


def _depth(max_depth: int) -> int:
    # Variable-length bounds are part of the statement text in both dialects, so clamp to a
    # plain int here rather than ever formatting caller input into Cypher.
    return max(1, min(int(max_depth), 30))
