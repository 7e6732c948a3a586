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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import ladybug
import pyarrow as pa

from graph_api.model import RelationType
from graph_api.store._records import (
    ENTITY_FIELDS,
    ORDER_CLAUSES,
    TOKEN_FIELDS,
    audit_event_from_values,
    audit_row,
    RECORD_FIELDS,
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
    "stub BOOLEAN, updated_at STRING"
)
_TOKEN_RETURN = ", ".join(f"t.{f}" for f in TOKEN_FIELDS)
_AUDIT_RETURN = "a.id, a.at, a.actor, a.action, a.source, a.changes"
_ARROWS = {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-"), Direction.BOTH: ("-", "-")}


class Cypher:
    """Every statement of the embedded store (Ladybug dialect)."""

    SCHEMA = [
        f"CREATE NODE TABLE IF NOT EXISTS Entity({_NODE_COLUMNS})",
        "CREATE NODE TABLE IF NOT EXISTS AuditEvent(id STRING PRIMARY KEY, at STRING, "
        "actor STRING, action STRING, source STRING, refs STRING[], changes STRING)",
        "CREATE NODE TABLE IF NOT EXISTS ApiToken(id STRING PRIMARY KEY, name STRING, "
        "team STRING, role STRING, hash STRING, created_at STRING, expires_at STRING, "
        "revoked_at STRING)",
        *(
            f"CREATE REL TABLE IF NOT EXISTS {rel.value}(FROM Entity TO Entity, origin STRING)"
            for rel in RelationType
        ),
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
        "e.updated_at = NULL"
    )
    DELETE_UNLINKED = (
        "MATCH (e:Entity) WHERE e.ref IN $refs AND NOT EXISTS { MATCH (e)-[]-() } DELETE e"
    )
    DELETE_UNLINKED_STUBS = (
        "MATCH (e:Entity) WHERE e.ref IN $refs AND e.stub = true "
        "AND NOT EXISTS { MATCH (e)-[]-() } DELETE e"
    )
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
        left, right = _ARROWS[direction]
        return (
            f"MATCH (a:Entity {{ref: $root}}){left}[p:{relation.value}* SHORTEST "
            f"1..{max_depth}]{right}(e:Entity) RETURN e.ref, length(p), e.owner"
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


class EmbeddedStore:
    """Ladybug-backed :class:`~graph_api.store.GraphStore`.

    Args:
        path: a folder; the database file lives inside it.
        read_only: open without the write lock, e.g. for a second process.
        readers: size of the read connection pool.
    """

    name = "embedded"

    def __init__(self, path: str | Path, *, read_only: bool = False, readers: int = 4) -> None:
        self.path = Path(path)
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
            return ladybug.Database(str(file), read_only=self.read_only)
        except RuntimeError as exc:
            wal = file.with_name(file.name + ".wal")
            if self.read_only or "WAL" not in str(exc) or not wal.exists():
                raise
        # A process killed while writing leaves a torn log tail: the transaction it belonged to
        # never committed. Keep the log for inspection, then replay only what did commit.
        kept = wal.with_name(f"{wal.name}.torn-{int(time.time())}")
        shutil.copy2(wal, kept)
        log.warning("store %s: write-ahead log was torn by a crash; kept a copy at %s", file, kept)
        return ladybug.Database(str(file), throw_on_wal_replay_failure=False)

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
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._write_pool, work)

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
        new_rows, update_rows = [], []
        for placed in change.upserts:
            row = entity_row(placed, change.source, stamp)
            (update_rows if placed.entity.ref in existing else new_rows).append(row)
        for chunk in batched(new_rows, ARROW_BATCH):
            run(Cypher.CREATE_NODES, {"rows": _table(chunk, _ENTITY_ARROW)})
        for chunk in batched(update_rows, ARROW_BATCH):
            run(Cypher.UPDATE_NODES, {"rows": _table(chunk, _ENTITY_ARROW)})
        edges = relation_rows(change.upserts)
        known = existing | {row["ref"] for row in new_rows}
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
        if change.audit is not None:
            run(Cypher.APPEND_AUDIT, audit_row(change.audit))

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
        order_text = ORDER_CLAUSES[order.value]
        if descending:
            order_text = ", ".join(f"{part} DESC" for part in order_text.split(", "))
        rows = await self._read(
            Cypher.page(clause, order_text), {**params, "offset": offset, "limit": limit}
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
        clauses = ["true"]
        params: dict[str, Any] = {}
        for name, value in (("actor", actor), ("ref", ref)):
            if value is not None:
                clauses.append(Cypher.AUDIT_FILTERS[name])
                params[name] = value
        where = " AND ".join(clauses)
        total = (await self._read(Cypher.audit_count(where), params))[0][0]
        rows = await self._read(
            Cypher.audit_page(where), {**params, "offset": offset, "limit": limit}
        )
        return [audit_event_from_values(row) for row in rows], int(total)

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


def _table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=schema)


def _depth(max_depth: int) -> int:
    # Variable-length bounds are part of the statement text in both dialects, so clamp to a
    # plain int here rather than ever formatting caller input into Cypher.
    return max(1, min(int(max_depth), 30))
