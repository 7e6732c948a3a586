"""Rows both stores write and read for source facts: packages, documents, code owners,
activity and source state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson

from graph_api.model.packages import ecosystem_of, in_range, lookup_names, parse_range
from graph_api.store._records import batched, record_from_values
from graph_api.store.port import (
    Activity,
    CodeOwnership,
    DocumentFilter,
    DocumentRecord,
    EntityRecord,
    PackageFilter,
    PackageRecord,
    PackageUse,
)

# Columns in a fixed order: the RETURN list of every read and the row shape of every write.
PACKAGE_FIELDS = ("purl", "ecosystem", "name", "version")
USE_FIELDS = ("ref", "purl", "source", "requirement", "scope", "manifest")
DOCUMENT_FIELDS = ("id", "source", "kind", "path", "title", "url", "text", "search_text", "meta")
DOCUMENT_RETURN_FIELDS = tuple(f for f in DOCUMENT_FIELDS if f != "search_text")
CODE_OWNER_FIELDS = ("id", "source", "ref", "owners", "file", "line", "pattern")
ACTIVITY_FIELDS = ("source", "repository", "branch", "head", "last_commit_at", "commits")
BATCH = 5000
# Documents are kept whole up to this size; longer ones are cut, as search needs no more.
MAX_DOCUMENT_CHARS = 200_000

PACKAGE_CLAUSES = {
    "ecosystem": "p.ecosystem = $ecosystem",
    # A Maven package is named group:artifact; the artifact alone (log4j-core) finds it too.
    "name": "(p.name IN $names OR (p.ecosystem = 'maven' AND p.name ENDS WITH $artifact))",
    "purl": "(p.purl = $purl OR p.purl STARTS WITH $purl_versions)",
}
DOCUMENT_CLAUSES = {
    "text": "all(t IN $terms WHERE d.search_text CONTAINS t)",
    "kinds": "d.kind IN $kinds",
    "ref": "EXISTS { MATCH (d)-[:DOCUMENTS]->(x:Entity) WHERE x.ref = $ref }",
}


def package_clause(where: PackageFilter) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (fixed fragments only) and parameters for a package filter."""
    clauses = ["true"]
    params: dict[str, Any] = {}
    if where.ecosystem:
        clauses.append(PACKAGE_CLAUSES["ecosystem"])
        params["ecosystem"] = ecosystem_of(where.ecosystem)
    if where.name:
        clauses.append(PACKAGE_CLAUSES["name"])
        params["names"] = lookup_names(where.name)
        params["artifact"] = f":{where.name.strip()}"
    if where.purl:
        clauses.append(PACKAGE_CLAUSES["purl"])
        # A purl without a version names every version of the package.
        params["purl"] = where.purl
        params["purl_versions"] = f"{where.purl}@"
    return " AND ".join(clauses), params


def page_in_range(
    rows: Sequence[Sequence[Any]], version_range: str, offset: int, limit: int
) -> tuple[list[PackageRecord], int]:
    """Keep the packages whose pinned version lies in the range, then cut the page."""
    specifiers = parse_range(version_range)
    matching = [p for p in map(package_from_values, rows) if in_range(p.version, specifiers)]
    return matching[offset : offset + max(limit, 0)], len(matching)


def document_clause(where: DocumentFilter) -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (fixed fragments only) and parameters for a document filter."""
    clauses = ["true"]
    params: dict[str, Any] = {}
    terms = (where.text or "").lower().split()
    if terms:
        clauses.append(DOCUMENT_CLAUSES["text"])
        params["terms"] = terms
    if where.kinds:
        clauses.append(DOCUMENT_CLAUSES["kinds"])
        params["kinds"] = [k.upper() for k in where.kinds]
    if where.ref:
        clauses.append(DOCUMENT_CLAUSES["ref"])
        params["ref"] = where.ref
    return " AND ".join(clauses), params


def package_rows(
    uses: Iterable[PackageUse], source: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Distinct package nodes, and one edge row per use."""
    packages: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for use in uses:
        package = use.package
        packages.setdefault(package.purl, {f: getattr(package, f) for f in PACKAGE_FIELDS})
        edges.append(
            {
                "ref": use.ref,
                "purl": package.purl,
                "source": source,
                "requirement": use.requirement,
                "scope": use.scope,
                "manifest": use.manifest,
            }
        )
    return list(packages.values()), edges


def package_from_values(values: Sequence[Any]) -> PackageRecord:
    return PackageRecord(*values)


def use_from_values(values: Sequence[Any]) -> PackageUse:
    """A use from ``ref, purl, ecosystem, name, version, requirement, scope, manifest, source``."""
    ref, purl, ecosystem, name, version, requirement, scope, manifest, source = values
    return PackageUse(
        ref=ref,
        package=PackageRecord(purl, ecosystem, name, version),
        requirement=requirement,
        scope=scope,
        manifest=manifest,
        source=source,
    )


def document_rows(
    documents: Iterable[DocumentRecord], source: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Document nodes (text cut to ``MAX_DOCUMENT_CHARS``) and their ``DOCUMENTS`` links."""
    nodes: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    for doc in documents:
        text = doc.text[:MAX_DOCUMENT_CHARS]
        nodes.append(
            {
                "id": doc.id,
                "source": source,
                "kind": doc.kind,
                "path": doc.path,
                "title": doc.title,
                "url": doc.url,
                "text": text,
                "search_text": f"{doc.title}\n{text}".lower(),
                "meta": orjson.dumps(doc.meta, option=orjson.OPT_SORT_KEYS).decode(),
            }
        )
        links.extend({"id": doc.id, "ref": ref, "source": source} for ref in doc.refs)
    return nodes, links


def document_from_values(values: Sequence[Any], refs: list[str]) -> DocumentRecord:
    """A document from a row in ``DOCUMENT_RETURN_FIELDS`` order."""
    row = dict(zip(DOCUMENT_RETURN_FIELDS, values, strict=True))
    row["meta"] = orjson.loads(row["meta"] or "{}")
    return DocumentRecord(**row, refs=refs)


def code_owner_rows(entries: Iterable[CodeOwnership], source: str) -> list[dict[str, Any]]:
    return [
        {
            # One entry per (source, ref): a ref claimed by two sources keeps both statements.
            "id": f"{source}\n{entry.ref}",
            "source": source,
            "ref": entry.ref,
            "owners": list(entry.owners),
            "file": entry.file,
            "line": entry.line,
            "pattern": entry.pattern,
        }
        for entry in entries
    ]


def code_owner_from_values(values: Sequence[Any]) -> CodeOwnership:
    """An entry from ``ref, owners, file, line, pattern, source``."""
    ref, owners, file, line, pattern, source = values
    return CodeOwnership(ref, list(owners or []), file, int(line), pattern, source)


def activity_row(activity: Activity) -> dict[str, Any]:
    return {
        "source": activity.source,
        "repository": activity.repository,
        "branch": activity.branch,
        "head": activity.head,
        "last_commit_at": activity.last_commit_at,
        "commits": orjson.dumps(activity.commits).decode(),
    }


def activity_from_values(values: Sequence[Any]) -> Activity:
    row = dict(zip(ACTIVITY_FIELDS, values, strict=True))
    row["commits"] = [(int(t), str(a)) for t, a in orjson.loads(row["commits"] or "[]")]
    return Activity(**row)


def state_text(state: dict[str, Any]) -> str:
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()


def grouped(items: Iterable[tuple[str, Any]], keys: Sequence[str]) -> dict[str, list[Any]]:
    """``{key: [values...]}`` for every asked key, in the order items come."""
    result: dict[str, list[Any]] = {key: [] for key in keys}
    for key, value in items:
        result.setdefault(key, []).append(value)
    return result


class FactReads:
    """The source-fact reads of the port, shared by both stores: each store supplies its own
    statements (``cypher``, with the same names) and its ``_read``."""

    cypher: Any
    _read: Callable[..., Awaitable[list[list[Any]]]]

    async def source_states(self, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in batched(list(sources), BATCH):
            rows = await self._read(self.cypher.SOURCE_STATES, {"sources": list(chunk)})
            found.update((source, orjson.loads(state)) for source, state in rows)
        return found

    async def owner_candidates(
        self, names: Sequence[str], slugs: Sequence[str], emails: Sequence[str]
    ) -> list[EntityRecord]:
        given = {"names": list(names), "slugs": list(slugs), "emails": list(emails)}
        # Only non-empty lists: Ladybug cannot type a quantifier over an empty list.
        params = {key: values for key, values in given.items() if values}
        if not params:
            return []
        where = " OR ".join(self.cypher.OWNER_CANDIDATE_CLAUSES[key] for key in params)
        rows = await self._read(self.cypher.owner_candidates(where), params)
        return [record_from_values(row) for row in rows]

    async def package_uses(self, refs: Sequence[str]) -> dict[str, list[PackageUse]]:
        if not refs:
            return {}
        rows = await self._read(self.cypher.PACKAGE_USES, {"refs": list(dict.fromkeys(refs))})
        return grouped(((row[0], use_from_values(row)) for row in rows), refs)

    async def package_users(self, purls: Sequence[str]) -> dict[str, list[PackageUse]]:
        if not purls:
            return {}
        rows = await self._read(self.cypher.PACKAGE_USERS, {"purls": list(dict.fromkeys(purls))})
        return grouped(((row[1], use_from_values(row)) for row in rows), purls)

    async def get_packages(self, purls: Sequence[str]) -> list[PackageRecord | None]:
        if not purls:
            return []
        rows = await self._read(self.cypher.GET_PACKAGES, {"purls": list(dict.fromkeys(purls))})
        by_purl = {row[0]: package_from_values(row) for row in rows}
        return [by_purl.get(purl) for purl in purls]

    async def find_packages(
        self, where: PackageFilter, offset: int, limit: int
    ) -> tuple[list[PackageRecord], int]:
        clause, params = package_clause(where)
        if where.version_range:
            # A version range is not a string comparison: filter every candidate in Python.
            rows = await self._read(self.cypher.package_page(clause, paged=False), params)
            return page_in_range(rows, where.version_range, offset, limit)
        total = (await self._read(self.cypher.package_count(clause), params))[0][0]
        if limit <= 0 or offset >= total:
            return [], int(total)
        page = {**params, "offset": offset, "limit": limit}
        rows = await self._read(self.cypher.package_page(clause, paged=True), page)
        return [package_from_values(row) for row in rows], int(total)

    async def documents_of(self, refs: Sequence[str]) -> dict[str, list[DocumentRecord]]:
        if not refs:
            return {}
        pairs = await self._read(self.cypher.DOCUMENTS_OF, {"refs": list(dict.fromkeys(refs))})
        documents = await self._documents([doc_id for _, doc_id in pairs])
        return grouped(((ref, documents[doc_id]) for ref, doc_id in pairs), refs)

    async def find_documents(
        self, where: DocumentFilter, offset: int, limit: int
    ) -> tuple[list[DocumentRecord], int]:
        clause, params = document_clause(where)
        total = (await self._read(self.cypher.document_count(clause), params))[0][0]
        if limit <= 0 or offset >= total:
            return [], int(total)
        rows = await self._read(
            self.cypher.document_page(clause), {**params, "offset": offset, "limit": limit}
        )
        links = await self._document_links([row[0] for row in rows])
        return [document_from_values(row, links[row[0]]) for row in rows], int(total)

    async def _documents(self, ids: Sequence[str]) -> dict[str, DocumentRecord]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        rows = await self._read(self.cypher.GET_DOCUMENTS, {"ids": unique})
        links = await self._document_links(unique)
        return {row[0]: document_from_values(row, links[row[0]]) for row in rows}

    async def _document_links(self, ids: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._read(self.cypher.DOCUMENT_LINKS, {"ids": list(ids)}) if ids else []
        return grouped(((doc_id, ref) for doc_id, ref in rows), ids)

    async def code_owners(self, refs: Sequence[str]) -> dict[str, list[CodeOwnership]]:
        if not refs:
            return {}
        rows = await self._read(self.cypher.CODE_OWNERS, {"refs": list(dict.fromkeys(refs))})
        return grouped(((row[0], code_owner_from_values(row)) for row in rows), refs)

    async def activities(self, sources: Sequence[str]) -> dict[str, Activity]:
        if not sources:
            return {}
        rows = await self._read(self.cypher.ACTIVITIES, {"sources": list(dict.fromkeys(sources))})
        return {row[0]: activity_from_values(row) for row in rows}
