"""Source-keyed hash-and-diff: how every loader and the upsert mutation change the catalog.

A source (a path, a repository, ``api``) contributes a set of entities. Applying a full set
replaces what that source contributed last time; an unchanged entity is not written at all.
Conflicts between sources and invalid documents are reported, never resolved by overwriting.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from graph_api.model import DescriptorError, parse_entity
from graph_api.model.entity import KIND_NAMES, content_hash
from graph_api.store import (
    AuditEvent,
    ChangeSet,
    Claim,
    EntityChange,
    GraphStore,
    PlacedEntity,
    SourceFacts,
)
from graph_api.store._records import now_iso


@dataclass(slots=True)
class Rejection:
    """A document that was not loaded: where it is, and why."""

    location: str
    reason: str
    ref: str | None = None


@dataclass(slots=True)
class LoadReport:
    """What applying one source did."""

    source: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts_changed: list[str] = field(default_factory=list)
    # Why the source was not read at all (e.g. its commit is the one loaded last time).
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "rejected": [asdict(r) for r in self.rejected],
            "warnings": list(self.warnings),
            "facts_changed": list(self.facts_changed),
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class SourceDocument:
    """One raw descriptor read from a source, before validation."""

    data: Any
    location: str
    # Documents from the same file replace each other silently (the later wins, as in
    # Backstage); the same ref from two files of one source is a conflict.
    file: str


def validate(documents: Iterable[SourceDocument]) -> tuple[list[PlacedEntity], list[Rejection]]:
    """Parse documents into entities, one rejection per invalid document.

    Within a file the later document with a ref wins; a ref defined again in another file of
    the same source is rejected there, naming where it was first defined.
    """
    placed: dict[str, PlacedEntity] = {}
    file_of: dict[str, str] = {}
    rejected: list[Rejection] = []
    for doc in documents:
        try:
            entity = parse_entity(doc.data)
        except DescriptorError as exc:
            rejected.append(Rejection(doc.location, str(exc), _guess_ref(doc.data)))
            continue
        first_file = file_of.get(entity.ref)
        if first_file is not None and first_file != doc.file:
            first = placed[entity.ref].location
            rejected.append(
                Rejection(doc.location, f"{entity.ref} is already defined at {first}", entity.ref)
            )
            continue
        file_of[entity.ref] = doc.file
        placed[entity.ref] = PlacedEntity(entity, doc.location)
    return list(placed.values()), rejected


def _guess_ref(data: Any) -> str | None:
    """The ref an invalid document was meant to define, to keep its previous version."""
    try:
        kind = data["kind"]
        metadata = data["metadata"]
        name = metadata["name"]
        namespace = metadata.get("namespace", "default")
    except (KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(v, str) for v in (kind, name, namespace)):
        return None
    return f"{KIND_NAMES.get(kind.lower(), kind)}:{namespace}/{name}".lower()


async def apply_source(
    store: GraphStore,
    source: str,
    entities: Sequence[PlacedEntity],
    rejected: Sequence[Rejection] = (),
    *,
    mode: Literal["full", "delta"] = "full",
    failed_files: Sequence[str] = (),
    actor: str = "system",
    action: str = "load",
    facts: SourceFacts | None = None,
    state: dict[str, Any] | None = None,
) -> LoadReport:
    """Make the catalog hold exactly what ``source`` says now, writing only the difference.

    Args:
        store: the graph store.
        source: the source key (a path, a repository, ``api``).
        entities: valid entities from the source.
        rejected: documents that failed validation; their refs keep their previous version.
        mode: ``full`` removes what the source no longer defines; ``delta`` only upserts.
        failed_files: files that could not be read at all; everything the source loaded from
            them before is kept.
        actor: who asked, for the audit trail (a token name, ``cli:<user>``).
        action: what was asked, for the audit trail.
        facts: what the source states besides entities (packages, documents, code owners,
            activity); each kind given is kept to the entities the source defines, hashed, and
            replaced wholesale only when its hash differs from the last load's.
        state: the source's state to record with the change (e.g. the commit it was read at);
            written, with the facts' hashes and the number of rejections, only when it
            differs from what is recorded.

    Example:
        >>> report = await apply_source(store, "catalog/", placed)  # doctest: +SKIP
    """
    report = LoadReport(source=source, rejected=list(rejected))
    previous = await store.source_claims(source)
    claims = await store.claims([p.entity.ref for p in entities if p.entity.ref not in previous])
    upserts: list[PlacedEntity] = []
    accepted: set[str] = set()
    for placed in entities:
        ref = placed.entity.ref
        other = claims.get(ref)
        if other is not None and other.source != source:
            report.rejected.append(
                Rejection(
                    placed.location,
                    f"{ref} is already defined by source {other.source} at {other.location}",
                    ref,
                )
            )
            continue
        accepted.add(ref)
        mine = previous.get(ref)
        if mine is not None and mine.hash == placed.entity.hash:
            report.unchanged += 1
            continue
        (report.updated if mine is not None else report.added).append(ref)
        upserts.append(placed)
    deletes: list[str] = []
    if mode == "full":
        kept = {p.entity.ref for p in entities}
        kept.update(r.ref for r in rejected if r.ref)
        # A rejected document whose ref cannot be read may be any entity its file defined:
        # keep them all until the file is valid again.
        failed_files = [*failed_files, *(r.location.rsplit(":", 1)[0] for r in rejected if not r.ref)]
        for ref, claim in previous.items():
            if ref in kept or _from_failed_file(claim, failed_files):
                continue
            deletes.append(ref)
    report.removed = sorted(deletes)
    changes = [
        EntityChange(p.entity.ref, _hash(previous.get(p.entity.ref)), p.entity.hash)
        for p in upserts
    ]
    changes.extend(EntityChange(ref, _hash(previous.get(ref)), None) for ref in report.removed)
    audit = audit_event(actor, action, source, changes) if changes else None
    change = ChangeSet(source=source, upserts=upserts, deletes=report.removed, audit=audit)
    if facts is not None or state is not None:
        defined = accepted | (set(previous) - set(deletes))
        recorded = {**(state or {}), "rejected": len(report.rejected)}
        await _diff_facts(store, change, _scoped(facts or SourceFacts(), defined), recorded)
        report.facts_changed = _changed_kinds(change.facts)
    await store.apply(change)
    return report


_FACT_KINDS = ("packages", "documents", "code_owners", "activity")


def _scoped(facts: SourceFacts, defined: set[str]) -> SourceFacts:
    """Facts kept to the entities the source defines after this change: a ref it lost to
    another source, or never loaded, gets nothing from it."""
    packages = facts.packages
    documents = facts.documents
    code_owners = facts.code_owners
    return SourceFacts(
        packages=None if packages is None else [u for u in packages if u.ref in defined],
        documents=None if documents is None else [
            replace(d, refs=[r for r in d.refs if r in defined]) for d in documents
        ],
        code_owners=None if code_owners is None else [
            c for c in code_owners if c.ref in defined
        ],
        activity=facts.activity,
    )


async def _diff_facts(
    store: GraphStore, change: ChangeSet, facts: SourceFacts, state: dict[str, Any]
) -> None:
    """Put into ``change`` only the kinds of facts whose hash moved, and the new state if it
    differs from the recorded one."""
    recorded = (await store.source_states([change.source])).get(change.source) or {}
    hashes = dict(recorded.get("facts") or {})
    for kind in _FACT_KINDS:
        value = getattr(facts, kind)
        if value is None:
            continue
        digest = content_hash(value)
        if hashes.get(kind) != digest:
            hashes[kind] = digest
            setattr(change.facts, kind, value)
    new_state = {**state, "facts": hashes}
    if new_state != recorded:
        change.state = new_state


def _changed_kinds(facts: SourceFacts) -> list[str]:
    return [kind for kind in _FACT_KINDS if getattr(facts, kind) is not None]


def audit_event(actor: str, action: str, source: str, changes: list[EntityChange]) -> AuditEvent:
    """A new event; ids sort by time (nanoseconds first) so the log orders without ties."""
    event_id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    return AuditEvent(
        id=event_id, at=now_iso(), actor=actor, action=action, source=source, changes=changes
    )


def _hash(claim: Claim | None) -> str | None:
    return claim.hash if claim is not None else None


def _from_failed_file(claim: Claim, failed_files: Sequence[str]) -> bool:
    location = claim.location or ""
    return any(location.rsplit(":", 1)[0] == path for path in failed_files)


async def delete_entity(store: GraphStore, ref: str, *, actor: str = "system") -> bool:
    """Remove one defined entity from whichever source defines it; False if there is none."""
    claim = (await store.claims([ref])).get(ref)
    if claim is None:
        return False
    audit = audit_event(actor, "deleteEntity", claim.source, [EntityChange(ref, claim.hash, None)])
    await store.apply(ChangeSet(source=claim.source, deletes=[ref], audit=audit))
    return True

