"""The Neo4j store: the same graph model and semantics as the embedded store, on a Neo4j server.

Every Cypher statement this store runs is in this module (Neo4j 5.21+ dialect) and listed by
:func:`all_statements`, which the tests lint offline with Neo4j's own parser. Writes run as one
managed transaction per change set, which the driver retries on transient errors; reads run in
managed read transactions routed to any cluster member.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, RoutingControl
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError

from graph_api.model import RelationType
from graph_api.model.cost import CostDimension, CostMetric
from graph_api.store._cost import (
    amount_query,
    amounts_from_rows,
    month_rollup,
    source_span,
    with_source,
)
from graph_api.store._facts import (
    ACTIVITY_FIELDS,
    DOCUMENT_RETURN_FIELDS,
    PACKAGE_FIELDS,
    FactReads,
    activity_row,
    code_owner_rows,
    document_clause,
    document_rows,
    package_clause,
    package_rows,
    state_text,
)
from graph_api.store._findings import (
    COUNT_FIELDS,
    FINDING_FIELDS,
    FINDING_ORDER,
    FindingReads,
    count_rows,
    declaration_rows,
    dependency_rows,
    finding_clause,
    finding_row,
    touched_entities,
    vulnerability_rows,
)
from graph_api.store._records import (
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
    unresolved_relations,
    relation_rows,
    stub_row,
)
from graph_api.store.embedded import _ARROWS, _depth
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
    DocumentFilter,
    EntityFilter,
    EntityOrder,
    EntityRecord,
    FindingFilter,
    PackageFilter,
    PeerRecord,
    ReachGroup,
    Reached,
    StoreError,
)

T = TypeVar("T")

BATCH = 5000
_RETURN = ", ".join(f"e.{f}" for f in RECORD_FIELDS)
_TOKEN_RETURN = ", ".join(f"t.{f}" for f in TOKEN_FIELDS)
_PEER_RETURN = ", ".join(f"p.{f}" for f in PEER_FIELDS)
_AUDIT_RETURN = "a.id, a.at, a.actor, a.action, a.source, a.changes"
_PACKAGE_RETURN = ", ".join(f"p.{f}" for f in PACKAGE_FIELDS)
_USE_RETURN = (
    "e.ref, p.purl, p.ecosystem, p.name, p.version, r.requirement, r.scope, r.manifest, r.source"
)
_DOCUMENT_RETURN = ", ".join(f"d.{f}" for f in DOCUMENT_RETURN_FIELDS)
_FINDING_RETURN = ", ".join(f"f.{f}" for f in FINDING_FIELDS)
_COUNT_RETURN = ", ".join(f"c.{f}" for f in COUNT_FIELDS)
_ACTIVITY_RETURN = ", ".join(f"a.{f}" for f in ACTIVITY_FIELDS)
# ServiceUnavailable, SessionExpired and the other connection failures are DriverErrors.
_DRIVER_ERRORS = (Neo4jError, DriverError)

# The month of a daily cost fact, a fragment of cost queries.
_FACT_MONTH = "date.truncate('month', f.day)"


class Cypher:
    """Every statement of the Neo4j store (Neo4j 5.21+ dialect)."""

    SCHEMA = {
        "entity_ref": (
            "CREATE CONSTRAINT entity_ref IF NOT EXISTS FOR (e:Entity) REQUIRE e.ref IS UNIQUE"
        ),
        "entity_source": "CREATE INDEX entity_source IF NOT EXISTS FOR (e:Entity) ON (e.source)",
        "entity_kind": "CREATE INDEX entity_kind IF NOT EXISTS FOR (e:Entity) ON (e.kind)",
        "entity_owner": "CREATE INDEX entity_owner IF NOT EXISTS FOR (e:Entity) ON (e.owner)",
        "entity_system": "CREATE INDEX entity_system IF NOT EXISTS FOR (e:Entity) ON (e.system)",
        "entity_unit": "CREATE INDEX entity_unit IF NOT EXISTS FOR (e:Entity) ON (e.unit)",
        "peer_name": "CREATE CONSTRAINT peer_name IF NOT EXISTS FOR (p:Peer) REQUIRE p.name IS UNIQUE",
        # The embedded store's primary keys: a second event or token with the same id fails.
        "audit_event_id": (
            "CREATE CONSTRAINT audit_event_id IF NOT EXISTS "
            "FOR (a:AuditEvent) REQUIRE a.id IS UNIQUE"
        ),
        "audit_event_at": "CREATE INDEX audit_event_at IF NOT EXISTS FOR (a:AuditEvent) ON (a.at)",
        "api_token_id": (
            "CREATE CONSTRAINT api_token_id IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.id IS UNIQUE"
        ),
        # Every authenticated request looks its token up by hash.
        "api_token_hash": "CREATE INDEX api_token_hash IF NOT EXISTS FOR (t:ApiToken) ON (t.hash)",
        "source_state": (
            "CREATE CONSTRAINT source_state IF NOT EXISTS "
            "FOR (s:SourceState) REQUIRE s.source IS UNIQUE"
        ),
        "package_purl": (
            "CREATE CONSTRAINT package_purl IF NOT EXISTS FOR (p:Package) REQUIRE p.purl IS UNIQUE"
        ),
        "package_name": "CREATE INDEX package_name IF NOT EXISTS FOR (p:Package) ON (p.name)",
        "uses_package_source": (
            "CREATE INDEX uses_package_source IF NOT EXISTS "
            "FOR ()-[r:USES_PACKAGE]-() ON (r.source)"
        ),
        "document_id": (
            "CREATE CONSTRAINT document_id IF NOT EXISTS FOR (d:Document) REQUIRE d.id IS UNIQUE"
        ),
        "document_source": (
            "CREATE INDEX document_source IF NOT EXISTS FOR (d:Document) ON (d.source)"
        ),
        "code_ownership_id": (
            "CREATE CONSTRAINT code_ownership_id IF NOT EXISTS "
            "FOR (c:CodeOwnership) REQUIRE c.id IS UNIQUE"
        ),
        "code_ownership_ref": (
            "CREATE INDEX code_ownership_ref IF NOT EXISTS FOR (c:CodeOwnership) ON (c.ref)"
        ),
        "activity_source": (
            "CREATE CONSTRAINT activity_source IF NOT EXISTS "
            "FOR (a:Activity) REQUIRE a.source IS UNIQUE"
        ),
        "cost_source": (
            "CREATE CONSTRAINT cost_source IF NOT EXISTS FOR (s:CostSource) REQUIRE s.source IS UNIQUE"
        ),
        "cost_fact_source": "CREATE INDEX cost_fact_source IF NOT EXISTS FOR (f:CostFact) ON (f.source)",
        "cost_fact_entity": "CREATE INDEX cost_fact_entity IF NOT EXISTS FOR (f:CostFact) ON (f.entity)",
        "cost_fact_day": "CREATE INDEX cost_fact_day IF NOT EXISTS FOR (f:CostFact) ON (f.day)",
        "cost_month_source": (
            "CREATE INDEX cost_month_source IF NOT EXISTS FOR (f:CostMonth) ON (f.source)"
        ),
        "cost_month_entity": (
            "CREATE INDEX cost_month_entity IF NOT EXISTS FOR (f:CostMonth) ON (f.entity)"
        ),
        "finding_id": (
            "CREATE CONSTRAINT finding_id IF NOT EXISTS FOR (f:Finding) REQUIRE f.id IS UNIQUE"
        ),
        "finding_entity": "CREATE INDEX finding_entity IF NOT EXISTS FOR (f:Finding) ON (f.entity)",
        "finding_source": "CREATE INDEX finding_source IF NOT EXISTS FOR (f:Finding) ON (f.source)",
        "finding_count_entity": (
            "CREATE CONSTRAINT finding_count_entity IF NOT EXISTS "
            "FOR (c:FindingCount) REQUIRE c.entity IS UNIQUE"
        ),
        "package_declaration_purl": (
            "CREATE INDEX package_declaration_purl IF NOT EXISTS "
            "FOR (d:PackageDeclaration) ON (d.purl)"
        ),
        "package_declaration_source": (
            "CREATE INDEX package_declaration_source IF NOT EXISTS "
            "FOR (d:PackageDeclaration) ON (d.source)"
        ),
        "vulnerability_purl": (
            "CREATE INDEX vulnerability_purl IF NOT EXISTS FOR (v:Vulnerability) ON (v.purl)"
        ),
        "vulnerability_source": (
            "CREATE INDEX vulnerability_source IF NOT EXISTS FOR (v:Vulnerability) ON (v.source)"
        ),
        "package_dependency_purl": (
            "CREATE INDEX package_dependency_purl IF NOT EXISTS "
            "FOR (d:PackageDependency) ON (d.purl)"
        ),
        "package_dependency_source": (
            "CREATE INDEX package_dependency_source IF NOT EXISTS "
            "FOR (d:PackageDependency) ON (d.source)"
        ),
    }
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
    # CREATE, not MERGE: a ref twice among one change's new entities must fail the whole change
    # on the unique constraint, as it does in the embedded store.
    CREATE_NODES = "UNWIND $rows AS r CREATE (e:Entity) SET e = r"
    # MERGE for stubs: another writer may create the same referenced-but-undefined ref
    # concurrently, and either outcome (its node or ours) is the node the edge needs.
    CREATE_STUBS = "UNWIND $rows AS r MERGE (e:Entity {ref: r.ref}) ON CREATE SET e = r"
    # Rows carry every ENTITY_FIELDS key, so += overwrites all of them (a null removes one).
    UPDATE_NODES = "UNWIND $rows AS r MATCH (e:Entity {ref: r.ref}) SET e += r"
    GET = f"UNWIND $refs AS r MATCH (e:Entity {{ref: r}}) RETURN {_RETURN}"
    STATS = "MATCH (e:Entity) WHERE e.stub = false RETURN e.kind, count(*)"
    UNRESOLVED_OUT = (
        "MATCH (a:Entity)-[r]->(b:Entity) WHERE b.stub = true AND r.origin = a.ref "
        "RETURN a.ref, type(r), b.ref"
    )
    UNRESOLVED_IN = (
        "MATCH (a:Entity)<-[r]-(b:Entity) WHERE b.stub = true AND r.origin = a.ref "
        "RETURN a.ref, type(r), b.ref"
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
    CLEAR = (
        "MATCH (n:Entity|AuditEvent|ApiToken|SourceState|Package|Document|CodeOwnership|Activity"
        "|Peer"
        "|CostFact|CostMonth|CostSource|Finding|FindingCount|PackageDeclaration|Vulnerability"
        "|PackageDependency) "
        "WITH n LIMIT $limit DETACH DELETE n RETURN count(*)"
    )

    # -- cost: daily facts, their monthly rollup, what each source last gave -----------------
    DELETE_COST_FACTS = "MATCH (f:CostFact) WHERE f.source = $source DELETE f"
    DELETE_COST_MONTHS = "MATCH (f:CostMonth) WHERE f.source = $source DELETE f"
    DELETE_COST_SOURCE = "MATCH (s:CostSource) WHERE s.source = $source DELETE s"
    CREATE_COST_FACTS = "UNWIND $rows AS r CREATE (f:CostFact) SET f = r"
    CREATE_COST_MONTHS = "UNWIND $rows AS r CREATE (f:CostMonth) SET f = r"
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
    # MERGE: packages are shared, and another writer may create the same one concurrently.
    CREATE_PACKAGES = (
        "UNWIND $rows AS r MERGE (p:Package {purl: r.purl}) "
        "ON CREATE SET p.ecosystem = r.ecosystem, p.name = r.name, p.version = r.version"
    )
    CREATE_USES = (
        "UNWIND $rows AS r MATCH (e:Entity {ref: r.ref}) MATCH (p:Package {purl: r.purl}) "
        "CREATE (e)-[:USES_PACKAGE {source: r.source, requirement: r.requirement, "
        "scope: r.scope, manifest: r.manifest}]->(p)"
    )
    DELETE_ORPHAN_PACKAGES = (
        "MATCH (p:Package) WHERE p.purl IN $purls "
        "AND NOT EXISTS { MATCH (p)<-[:USES_PACKAGE]-() } DELETE p"
    )
    DELETE_SOURCE_DOCUMENTS = "MATCH (d:Document) WHERE d.source = $source DETACH DELETE d"
    DELETE_DOCUMENT_LINKS_OF = (
        "MATCH (d:Document)-[r:DOCUMENTS]->(e:Entity) WHERE e.ref IN $refs DELETE r"
    )
    CREATE_DOCUMENTS = "UNWIND $rows AS r CREATE (d:Document) SET d = r"
    CREATE_DOCUMENT_LINKS = (
        "UNWIND $rows AS r MATCH (d:Document {id: r.id}) MATCH (e:Entity {ref: r.ref}) "
        "CREATE (d)-[:DOCUMENTS {source: r.source}]->(e)"
    )
    DELETE_SOURCE_CODE_OWNERS = "MATCH (c:CodeOwnership) WHERE c.source = $source DELETE c"
    DELETE_CODE_OWNERS_OF = (
        "MATCH (c:CodeOwnership) WHERE c.source = $source AND c.ref IN $refs DELETE c"
    )
    CREATE_CODE_OWNERS = "UNWIND $rows AS r CREATE (c:CodeOwnership) SET c = r"
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
    SOURCE_FINDINGS = f"MATCH (f:Finding) WHERE f.source = $source RETURN {_FINDING_RETURN}"
    FINDINGS_OF = f"UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r RETURN {_FINDING_RETURN}"
    CREATE_FINDINGS = "UNWIND $rows AS r CREATE (f:Finding) SET f = r"
    # Rows carry every field, so += overwrites all of them (a null removes one).
    UPDATE_FINDINGS = "UNWIND $rows AS r MATCH (f:Finding {id: r.id}) SET f += r"
    COUNT_OPEN = (
        "UNWIND $refs AS r MATCH (f:Finding) WHERE f.entity = r AND f.status = 'OPEN' "
        "RETURN r, f.severity, count(*)"
    )
    DELETE_COUNTS = "UNWIND $refs AS r MATCH (c:FindingCount {entity: r}) DELETE c"
    CREATE_COUNTS = "UNWIND $rows AS r CREATE (c:FindingCount) SET c = r"
    OPEN_COUNTS = f"UNWIND $refs AS r MATCH (c:FindingCount {{entity: r}}) RETURN {_COUNT_RETURN}"
    DELETE_SOURCE_DECLARATIONS = "MATCH (d:PackageDeclaration) WHERE d.source = $source DELETE d"
    CREATE_DECLARATIONS = "UNWIND $rows AS r CREATE (d:PackageDeclaration) SET d = r"
    DELETE_SOURCE_VULNERABILITIES = "MATCH (v:Vulnerability) WHERE v.source = $source DELETE v"
    CREATE_VULNERABILITIES = "UNWIND $rows AS r CREATE (v:Vulnerability) SET v = r"
    DELETE_SOURCE_PACKAGE_DEPENDENCIES = (
        "MATCH (d:PackageDependency) WHERE d.source = $source DELETE d"
    )
    CREATE_PACKAGE_DEPENDENCIES = "UNWIND $rows AS r CREATE (d:PackageDependency) SET d = r"
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
            "ORDER BY a.at DESC, a.id DESC SKIP $offset LIMIT $limit"
        )

    @staticmethod
    def create_edges(relation: RelationType) -> str:
        return (
            "UNWIND $rows AS r MATCH (a:Entity {ref: r.s}) MATCH (b:Entity {ref: r.t}) "
            f"CREATE (a)-[:{relation.value} {{origin: r.o}}]->(b)"
        )

    @staticmethod
    def count(where: str) -> str:
        return f"MATCH (e:Entity) WHERE {where} RETURN count(e)"

    @staticmethod
    def page(where: str, order: str) -> str:
        return (
            f"MATCH (e:Entity) WHERE {where} RETURN {_RETURN} "
            f"ORDER BY {order} SKIP $offset LIMIT $limit"
        )

    @staticmethod
    def related(relation: RelationType, direction: Direction) -> str:
        # Refs only: the entities themselves come from the per-request entity loader, which
        # fetches each distinct one once however many relations lead to it.
        left, right = _ARROWS[direction]
        return (
            f"UNWIND $refs AS r MATCH (a:Entity {{ref: r}}){left}[:{relation.value}]{right}"
            "(e:Entity) RETURN DISTINCT a.ref, e.ref"
        )

    @staticmethod
    def reachable(relation: RelationType, direction: Direction, max_depth: int) -> str:
        # ANY SHORTEST keeps one shortest path per reached node (a BFS in the planner), so
        # dense or cyclic graphs never enumerate every path.
        left, right = _ARROWS[direction]
        return (
            f"MATCH p = ANY SHORTEST (a:Entity {{ref: $root}}){left}[:{relation.value}]{right}"
            f"{{1,{max_depth}}}(e:Entity) RETURN e.ref, length(p), e.owner"
        )

    @staticmethod
    def reach_counts(
        relation: RelationType, direction: Direction, max_depth: int, group: ReachGroup
    ) -> str:
        left, right = _ARROWS[direction]
        key = "length(p)" if group is ReachGroup.DEPTH else "e.owner"
        return (
            f"MATCH p = ANY SHORTEST (a:Entity {{ref: $root}}){left}[:{relation.value}]{right}"
            f"{{1,{max_depth}}}(e:Entity) WHERE e.ref <> $root RETURN {key}, count(*)"
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
            f"MATCH p = ANY SHORTEST (a:Entity {{ref: $from_ref}}){left}[:{relation.value}]"
            f"{right}{{1,{max_depth}}}(b:Entity {{ref: $to_ref}}) "
            "RETURN [n IN nodes(p) | n.ref]"
        )


def _audit_filter(actor: str | None, ref: str | None) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (fixed fragments only) and parameters for an audit query."""
    clauses = ["true"]
    params: dict[str, Any] = {}
    for name, value in (("actor", actor), ("ref", ref)):
        if value is not None:
            clauses.append(Cypher.AUDIT_FILTERS[name])
            params[name] = value
    return " AND ".join(clauses), params


def _order(order: EntityOrder, descending: bool) -> str:
    """``ORDER BY`` text for a page of entities, every key descending when asked."""
    text = ORDER_CLAUSES[order.value]
    if descending:
        text = ", ".join(f"{part} DESC" for part in text.split(", "))
    return text


def all_statements() -> dict[str, str]:
    """Every statement the store can run, by name, for offline linting."""
    statements = {f"SCHEMA.{name}": text for name, text in Cypher.SCHEMA.items()}
    statements.update(
        (name, value)
        for name, value in vars(Cypher).items()
        if name.isupper() and isinstance(value, str)
    )
    deepest = _depth(sys.maxsize)
    for relation in RelationType:
        rel = relation.value
        statements[f"create_edges[{rel}]"] = Cypher.create_edges(relation)
        statements[f"edges_among[{rel}]"] = Cypher.edges_among(relation)
        statements[f"all_edges[{rel}]"] = Cypher.all_edges(relation)
        for direction in Direction:
            key = f"{rel},{direction.value}"
            statements[f"related[{key}]"] = Cypher.related(relation, direction)
            statements[f"reachable[{key}]"] = Cypher.reachable(relation, direction, deepest)
            for group in ReachGroup:
                statements[f"reach_counts[{key},{group.value}]"] = Cypher.reach_counts(
                    relation, direction, deepest, group
                )
            statements[f"shortest_path[{key}]"] = Cypher.shortest_path(relation, direction, deepest)
    for form, annotation in (("annotation_key", "x.io/k"), ("annotation_pair", "x.io/k=v")):
        where, _ = filter_clause(
            EntityFilter(
                kinds=["component"],
                types=["service"],
                lifecycles=["production"],
                namespaces=["default"],
                owner="group:default/team",
                system="system:default/s",
                domain="domain:default/d",
                tag="python",
                annotation=annotation,
                text="shop",
                refs=["component:default/a"],
                unowned=True,
                units=["payments"],
                ref_after="component:default/a",
            )
        )
        statements[f"count[{form}]"] = Cypher.count(where)
        for order in EntityOrder:
            for descending in (False, True):
                way = "DESC" if descending else "ASC"
                statements[f"page[{form},{order.value},{way}]"] = Cypher.page(
                    where, _order(order, descending)
                )
    for form, (actor, ref) in (("all", (None, None)), ("filtered", ("alice", "component:a"))):
        where, _ = _audit_filter(actor, ref)
        statements[f"audit_count[{form}]"] = Cypher.audit_count(where)
        statements[f"audit_page[{form}]"] = Cypher.audit_page(where)
    every_candidate = " OR ".join(Cypher.OWNER_CANDIDATE_CLAUSES.values())
    statements["owner_candidates"] = Cypher.owner_candidates(every_candidate)
    packages, _ = package_clause(PackageFilter(name="x", ecosystem="pypi", purl="pkg:pypi/x"))
    statements["package_count"] = Cypher.package_count(packages)
    statements["package_page[paged]"] = Cypher.package_page(packages, paged=True)
    statements["package_page[all]"] = Cypher.package_page(packages, paged=False)
    documents, _ = document_clause(DocumentFilter(text="a b", kinds=["ADR"], ref="component:a"))
    statements["document_count"] = Cypher.document_count(documents)
    statements["document_page"] = Cypher.document_page(documents)
    findings, _ = finding_clause(
        FindingFilter(tools=["bandit"], severities=["HIGH"], statuses=["OPEN"], kinds=["CODE"])
    )
    for scoped in (False, True):
        statements[f"finding_count[{scoped}]"] = Cypher.finding_count(findings, scoped)
        statements[f"finding_page[{scoped}]"] = Cypher.finding_page(findings, scoped)
    # Cost sums: every key and filter, on the daily table and on the monthly one.
    daily = CostFilter(date(2024, 1, 2), date(2024, 1, 3), ["a"], ["r"], allocated=False)
    monthly = CostFilter(date(2024, 1, 1), date(2024, 1, 31), ["a"], ["r"], allocated=True)
    by_month = [d for d in CostDimension if d is not CostDimension.DAY]
    for name, where, by in (
        ("daily", daily, list(CostDimension)),
        ("monthly", monthly, by_month),
        ("total", daily, []),
    ):
        query, _ = amount_query(where, by, CostMetric.LIST, fact_month=_FACT_MONTH)
        statements[f"cost_amounts[{name}]"] = query
    return statements


def _reason(exc: Neo4jError | DriverError) -> str:
    # Server messages for syntax and semantic errors quote the statement, so only constraint
    # violations (which name the label, key and value) pass their message on; others give
    # their status code.
    if isinstance(exc, ConstraintError) and exc.message:
        return exc.message
    if isinstance(exc, Neo4jError):
        return exc.code or type(exc).__name__
    return str(exc) or type(exc).__name__


class Neo4jStore(FactReads, FindingReads):
    """Neo4j-backed :class:`~graph_api.store.GraphStore`.

    Args:
        uri: a ``neo4j://``, ``neo4j+s://`` or ``bolt://`` address.
        user, password: basic auth credentials.
        database: the database to use.
    """

    name = "neo4j"
    cypher = Cypher

    def __init__(
        self, uri: str, *, user: str = "neo4j", password: str = "", database: str = "neo4j"
    ) -> None:
        self.uri = uri
        self.user = user
        self._password = password
        self.database = database
        self._driver: AsyncDriver | None = None
        # Neo4j runs at read committed: two concurrent applies could both see a ref as new
        # and the second fail its CREATE. Serialising this process's writes, as the embedded
        # store does, keeps apply's read-then-write steps consistent.
        self._write_lock = asyncio.Lock()
        self.calls = 0
        self.writes = 0

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self) -> None:
        if self._driver is not None:
            return
        driver: AsyncDriver | None = None
        try:
            driver = AsyncGraphDatabase.driver(self.uri, auth=(self.user, self._password))
            await driver.verify_connectivity()
            for statement in Cypher.SCHEMA.values():
                await driver.execute_query(statement, database_=self.database)
        except _DRIVER_ERRORS as exc:
            if driver is not None:
                await driver.close()
            raise StoreError(f"cannot open the Neo4j store at {self.uri}: {_reason(exc)}") from exc
        self._driver = driver

    async def close(self) -> None:
        if self._driver is not None:
            await self._driver.close()
            self._driver = None

    async def ping(self) -> bool:
        try:
            rows = await self._read(Cypher.PING)
        except StoreError:
            return False
        return rows == [[1]]

    async def clear(self) -> None:
        """Delete everything devgraph stores, in bounded transactions (for tests and resets)."""
        while True:
            rows = await self._write(lambda tx: _run(tx, Cypher.CLEAR, {"limit": BATCH}))
            if rows[0][0] == 0:
                return

    # -- plumbing ---------------------------------------------------------------------------
    def _require(self) -> AsyncDriver:
        if self._driver is None:
            raise StoreError("the Neo4j store is not open")
        return self._driver

    async def _read(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        driver = self._require()
        self.calls += 1
        try:
            result = await driver.execute_query(
                query, params or {}, routing_=RoutingControl.READ, database_=self.database
            )
        except _DRIVER_ERRORS as exc:
            raise StoreError(f"read failed: {_reason(exc)}") from exc
        return [list(record.values()) for record in result.records]

    async def _write(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        driver = self._require()
        async with self._write_lock:
            self.calls += 1
            self.writes += 1
            try:
                # The bookmark manager execute_query uses, so reads see this write at once.
                async with driver.session(
                    database=self.database,
                    bookmark_manager=driver.execute_query_bookmark_manager,
                ) as session:
                    return await session.execute_write(work)
            except _DRIVER_ERRORS as exc:
                raise StoreError(f"write rolled back: {_reason(exc)}") from exc

    # -- writes -----------------------------------------------------------------------------
    async def apply(self, change: ChangeSet) -> None:
        if change.empty and change.audit is None:
            return
        await self._write(lambda tx: _apply(tx, change))

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
        rows = await self._read(Cypher.GET, {"refs": list(dict.fromkeys(refs))})
        by_ref = {row[0]: record_from_values(row) for row in rows}
        return [by_ref.get(ref) for ref in refs]

    async def find_entities(
        self,
        where: EntityFilter,
        order: EntityOrder,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[EntityRecord], int]:
        clause, params = filter_clause(where)
        total = (await self._read(Cypher.count(clause), params))[0][0]
        if limit <= 0 or offset >= total:
            return [], total
        rows = await self._read(
            Cypher.page(clause, _order(order, descending)),
            {**params, "offset": offset, "limit": limit},
        )
        return [record_from_values(row) for row in rows], total

    async def related(
        self, refs: Sequence[str], relation: RelationType, direction: Direction
    ) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {ref: [] for ref in refs}
        if not refs:
            return result
        rows = await self._read(Cypher.related(relation, direction), {"refs": list(set(refs))})
        for source, target in sorted(rows):
            result[source].append(target)
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
        statement = Cypher.reach_counts(relation, direction, _depth(max_depth), group)
        return {key: int(count) for key, count in await self._read(statement, {"root": root})}

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
        if not rows:
            return None
        name, digest, lines, facts, first, last, loaded_at = rows[0]
        return CostSourceRecord(
            name, digest, lines, facts, _native_date(first), _native_date(last), loaded_at
        )

    async def cost_amounts(
        self, where: CostFilter, by: Sequence[CostDimension], metric: CostMetric
    ) -> list[CostAmount]:
        query, params = amount_query(where, by, metric, fact_month=_FACT_MONTH)
        return amounts_from_rows(await self._read(query, params), len(by))

    async def cost_span(self) -> tuple[date, date] | None:
        first, last = (await self._read(Cypher.COST_SPAN))[0]
        if first is None:
            return None
        return _native_date(first), _native_date(last)

    # -- security ---------------------------------------------------------------------------
    async def audit_events(
        self, *, actor: str | None, ref: str | None, offset: int, limit: int
    ) -> tuple[list[AuditEvent], int]:
        where, params = _audit_filter(actor, ref)
        total = (await self._read(Cypher.audit_count(where), params))[0][0]
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
        await self._write(lambda tx: _run(tx, Cypher.PUT_PEER, params))

    async def get_peers(self) -> list[PeerRecord]:
        return [PeerRecord(*row) for row in await self._read(Cypher.GET_PEERS)]

    async def delete_peer(self, name: str) -> bool:
        rows = await self._write(lambda tx: _run(tx, Cypher.DELETE_PEER, {"name": name}))
        return bool(rows and rows[0][0])

    async def put_token(self, token: ApiToken) -> None:
        params = {f: getattr(token, f) for f in TOKEN_FIELDS}
        await self._write(lambda tx: _run(tx, Cypher.PUT_TOKEN, params))

    async def token_by_hash(self, digest: str) -> ApiToken | None:
        rows = await self._read(Cypher.TOKEN_BY_HASH, {"hash": digest})
        return ApiToken(*rows[0]) if rows else None

    async def list_tokens(self) -> list[ApiToken]:
        return [ApiToken(*row) for row in await self._read(Cypher.LIST_TOKENS)]

    async def revoke_token(self, token_id: str, at: str) -> bool:
        rows = await self._write(
            lambda tx: _run(tx, Cypher.REVOKE_TOKEN, {"id": token_id, "at": at})
        )
        return bool(rows)


async def _run(tx: AsyncManagedTransaction, query: str, params: dict[str, Any]) -> list[list[Any]]:
    """Run one statement in ``tx`` and return its rows as value lists."""
    result = await tx.run(query, params)
    rows: list[list[Any]] = await result.values()
    return rows


async def _apply(tx: AsyncManagedTransaction, change: ChangeSet) -> None:
    """The embedded store's ``_apply``, step for step, inside one managed transaction.

    The driver may re-run this function after a transient error, so it derives everything
    from ``change`` and the transaction's own reads.
    """
    stamp = now_iso()
    # Fact edges go first: an entity being deleted must be left with relations only.
    orphan_candidates = await _remove_facts(tx, change)
    upsert_refs = [p.entity.ref for p in change.upserts]
    existing: set[str] = set()
    for chunk in batched(upsert_refs, BATCH):
        found = await _run(tx, Cypher.EXISTING, {"refs": list(chunk)})
        existing.update(row[0] for row in found)
    # Refs whose own declared edges are replaced: updated ones and deleted ones.
    replaced = [r for r in upsert_refs if r in existing] + list(change.deletes)
    stub_candidates: set[str] = set()
    for chunk in batched(replaced, BATCH):
        params = {"refs": list(chunk)}
        stub_candidates.update(row[0] for row in await _run(tx, Cypher.STUB_NEIGHBOURS, params))
        await _run(tx, Cypher.DELETE_OUT_EDGES, params)
        await _run(tx, Cypher.DELETE_IN_EDGES, params)
    for chunk in batched(list(change.deletes), BATCH):
        params = {"refs": list(chunk)}
        await _run(tx, Cypher.DEMOTE_TO_STUB, params)
        await _run(tx, Cypher.DELETE_UNLINKED, params)
    new_rows: list[dict[str, Any]] = []
    update_rows: list[dict[str, Any]] = []
    for placed in change.upserts:
        row = entity_row(placed, change.source, stamp)
        (update_rows if placed.entity.ref in existing else new_rows).append(row)
    for chunk in batched(new_rows, BATCH):
        await _run(tx, Cypher.CREATE_NODES, {"rows": list(chunk)})
    for chunk in batched(update_rows, BATCH):
        await _run(tx, Cypher.UPDATE_NODES, {"rows": list(chunk)})
    edges = relation_rows(change.upserts)
    known = existing | {row["ref"] for row in new_rows}
    targets = sorted(
        {e[end] for group in edges.values() for e in group for end in ("s", "t")} - known
    )
    present: set[str] = set()
    for chunk in batched(targets, BATCH):
        found = await _run(tx, Cypher.EXISTING, {"refs": list(chunk)})
        present.update(row[0] for row in found)
    stubs = [stub_row(ref) for ref in targets if ref not in present]
    for chunk in batched(stubs, BATCH):
        await _run(tx, Cypher.CREATE_STUBS, {"rows": list(chunk)})
    for relation, edge_rows in edges.items():
        for chunk in batched(edge_rows, BATCH):
            await _run(tx, Cypher.create_edges(relation), {"rows": list(chunk)})
    for chunk in batched(sorted(stub_candidates), BATCH):
        await _run(tx, Cypher.DELETE_UNLINKED_STUBS, {"refs": list(chunk)})
    await _write_facts(tx, change)
    await _write_findings(tx, change)
    if change.facts.cost is not None:
        await _write_cost(tx, change.source, change.facts.cost)
    for chunk in batched(sorted(orphan_candidates), BATCH):
        await _run(tx, Cypher.DELETE_ORPHAN_PACKAGES, {"purls": list(chunk)})
    if change.state is not None:
        state = {"source": change.source, "state": state_text(change.state)}
        await _run(tx, Cypher.PUT_STATE, state)
    if change.audit is not None:
        await _run(tx, Cypher.APPEND_AUDIT, audit_row(change.audit))


async def _remove_facts(tx: AsyncManagedTransaction, change: ChangeSet) -> set[str]:
    """The embedded store's ``_remove_facts``: drop replaced facts and those of deleted
    entities; return the purls that may have lost their last user."""
    facts = change.facts
    source = {"source": change.source}
    touched: set[str] = set()
    if facts.packages is not None:
        touched.update(row[0] for row in await _run(tx, Cypher.DELETE_SOURCE_USES, source))
    for chunk in batched(list(change.deletes), BATCH):
        refs = {"refs": list(chunk)}
        touched.update(row[0] for row in await _run(tx, Cypher.DELETE_USES_OF, refs))
        await _run(tx, Cypher.DELETE_DOCUMENT_LINKS_OF, refs)
        await _run(tx, Cypher.DELETE_CODE_OWNERS_OF, {**source, **refs})
    if facts.documents is not None:
        await _run(tx, Cypher.DELETE_SOURCE_DOCUMENTS, source)
    if facts.code_owners is not None:
        await _run(tx, Cypher.DELETE_SOURCE_CODE_OWNERS, source)
    if facts.activity is not None:
        await _run(tx, Cypher.DELETE_ACTIVITY, source)
    return touched


async def _write_facts(tx: AsyncManagedTransaction, change: ChangeSet) -> None:
    facts = change.facts
    if facts.packages is not None:
        packages, uses = package_rows(facts.packages, change.source)
        for chunk in batched(packages, BATCH):
            await _run(tx, Cypher.CREATE_PACKAGES, {"rows": list(chunk)})
        for chunk in batched(uses, BATCH):
            await _run(tx, Cypher.CREATE_USES, {"rows": list(chunk)})
    if facts.documents is not None:
        nodes, links = document_rows(facts.documents, change.source)
        for chunk in batched(nodes, BATCH):
            await _run(tx, Cypher.CREATE_DOCUMENTS, {"rows": list(chunk)})
        for chunk in batched(links, BATCH):
            await _run(tx, Cypher.CREATE_DOCUMENT_LINKS, {"rows": list(chunk)})
    if facts.code_owners is not None:
        rows = code_owner_rows(facts.code_owners, change.source)
        for chunk in batched(rows, BATCH):
            await _run(tx, Cypher.CREATE_CODE_OWNERS, {"rows": list(chunk)})
    if facts.activity is not None:
        await _run(tx, Cypher.CREATE_ACTIVITY, activity_row(facts.activity))


async def _write_findings(tx: AsyncManagedTransaction, change: ChangeSet) -> None:
    """The embedded store's ``_write_findings``."""
    facts = change.facts
    source = {"source": change.source}
    replaced = (
        (
            facts.declarations,
            Cypher.DELETE_SOURCE_DECLARATIONS,
            Cypher.CREATE_DECLARATIONS,
            declaration_rows,
        ),
        (
            facts.vulnerabilities,
            Cypher.DELETE_SOURCE_VULNERABILITIES,
            Cypher.CREATE_VULNERABILITIES,
            vulnerability_rows,
        ),
        (
            facts.package_dependencies,
            Cypher.DELETE_SOURCE_PACKAGE_DEPENDENCIES,
            Cypher.CREATE_PACKAGE_DEPENDENCIES,
            dependency_rows,
        ),
    )
    for items, delete, create, to_rows in replaced:
        if items is None:
            continue
        await _run(tx, delete, source)
        for chunk in batched(to_rows(items, change.source), BATCH):
            await _run(tx, create, {"rows": list(chunk)})
    if facts.findings is None:
        return
    for statement, findings in (
        (Cypher.CREATE_FINDINGS, facts.findings.created),
        (Cypher.UPDATE_FINDINGS, facts.findings.updated),
    ):
        for chunk in batched([finding_row(f) for f in findings], BATCH):
            await _run(tx, statement, {"rows": list(chunk)})
    entities = touched_entities([*facts.findings.created, *facts.findings.updated])
    for chunk in batched(entities, BATCH):
        refs = {"refs": list(chunk)}
        counts = count_rows(await _run(tx, Cypher.COUNT_OPEN, refs), chunk)
        await _run(tx, Cypher.DELETE_COUNTS, refs)
        if counts:
            await _run(tx, Cypher.CREATE_COUNTS, {"rows": counts})


async def _write_cost(tx: AsyncManagedTransaction, source: str, cost: CostSet) -> None:
    """The embedded store's ``_write_cost``: replace the source's facts, rollup and record."""
    params = {"source": source}
    for statement in (
        Cypher.DELETE_COST_FACTS,
        Cypher.DELETE_COST_MONTHS,
        Cypher.DELETE_COST_SOURCE,
    ):
        await _run(tx, statement, params)
    facts = with_source(cost.facts, source)
    for table, statement in (
        (facts, Cypher.CREATE_COST_FACTS),
        (month_rollup(facts), Cypher.CREATE_COST_MONTHS),
    ):
        for batch in table.to_batches(max_chunksize=BATCH):
            await _run(tx, statement, {"rows": batch.to_pylist()})
    first_day, last_day = source_span(facts)
    await _run(
        tx,
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


def _native_date(value: Any) -> date | None:
    # The driver returns neo4j.time.Date; the port speaks datetime.date.
    return value.to_native() if value is not None else None
