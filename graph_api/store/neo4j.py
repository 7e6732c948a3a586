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
from typing import Any, TypeVar

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, RoutingControl
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError

from graph_api.model import RelationType
from graph_api.store._records import (
    ORDER_CLAUSES,
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
    Direction,
    EntityFilter,
    EntityOrder,
    EntityRecord,
    Reached,
    StoreError,
)

T = TypeVar("T")

BATCH = 5000
_RETURN = ", ".join(f"e.{f}" for f in RECORD_FIELDS)
_TOKEN_RETURN = ", ".join(f"t.{f}" for f in TOKEN_FIELDS)
_AUDIT_RETURN = "a.id, a.at, a.actor, a.action, a.source, a.changes"
# ServiceUnavailable, SessionExpired and the other connection failures are DriverErrors.
_DRIVER_ERRORS = (Neo4jError, DriverError)


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
        "e.updated_at = NULL"
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
    CLEAR = (
        "MATCH (n:Entity|AuditEvent|ApiToken) WITH n LIMIT $limit DETACH DELETE n RETURN count(*)"
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


class Neo4jStore:
    """Neo4j-backed :class:`~graph_api.store.GraphStore`.

    Args:
        uri: a ``neo4j://``, ``neo4j+s://`` or ``bolt://`` address.
        user, password: basic auth credentials.
        database: the database to use.
    """

    name = "neo4j"

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
    if change.audit is not None:
        await _run(tx, Cypher.APPEND_AUDIT, audit_row(change.audit))
