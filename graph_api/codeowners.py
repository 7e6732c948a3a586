"""Code-owner handles to catalog entities: ``@org/team`` to a Group, ``@user`` to a User,
``someone@example.com`` to the User with that ``spec.profile.email``.

A team is found by its ``github.com/team-slug`` annotation (``org/team``) or else by name
(``team``); a ``@name`` is a User by name, or else a Group by name (GitLab groups are
``@name`` too). Among several matches the ``default`` namespace wins, then the first ref.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from graph_api.model import canonical_ref
from graph_api.store import EntityRecord, GraphStore

TEAM_SLUG = "github.com/team-slug"


@dataclass(frozen=True, slots=True)
class Handle:
    """A parsed owner: ``kind``, the name to match, and for teams the ``org/team`` slug."""

    text: str
    kind: Literal["team", "user", "email"]
    name: str
    slug: str | None = None


def parse_handle(text: str) -> Handle | None:
    """Read one CODEOWNERS owner; None for what names nobody (``@@role`` or junk).

    Example:
        >>> parse_handle("@Acme/Payments")
        Handle(text='@Acme/Payments', kind='team', name='payments', slug='acme/payments')
    """
    if text.startswith("@@"):
        return None  # GitLab roles (``@@maintainer``) are not catalog entities
    if text.startswith("@") and len(text) > 1:
        body = text[1:]
        if "/" in body:
            return Handle(text, "team", body.rsplit("/", 1)[1].lower(), body.lower())
        return Handle(text, "user", body.lower())
    if "@" in text.strip("@"):
        return Handle(text, "email", text.lower())
    return None


def fallback_ref(handle: Handle) -> str | None:
    """The ref a handle names when the catalog has no entity for it yet (by name)."""
    if handle.kind == "team":
        return canonical_ref("Group", "default", handle.name)
    if handle.kind == "user":
        return canonical_ref("User", "default", handle.name)
    return None  # an address is not a name


async def resolve_handles(
    store: GraphStore, texts: Iterable[str], also: Sequence[EntityRecord] = ()
) -> dict[str, str | None]:
    """Each handle's entity ref, or None, with one store call for all of them.

    Args:
        store: where defined groups and users are looked up.
        texts: the handles.
        also: groups and users not stored yet (read in the same run) that count as well.
    """
    handles = {text: parse_handle(text) for text in dict.fromkeys(texts)}
    known = [h for h in handles.values() if h is not None]
    names = sorted({h.name for h in known if h.kind != "email"})
    # Annotation pairs are stored as written: ask for the slug as written and lower-cased.
    slugs = sorted(
        {f"{TEAM_SLUG}={slug}" for h in known if h.slug for slug in (h.slug, h.text[1:])}
    )
    emails = sorted({h.name for h in known if h.kind == "email"})
    candidates = [*also, *(await store.owner_candidates(names, slugs, emails) if known else [])]
    return {text: _pick(h, candidates) if h else None for text, h in handles.items()}


def _pick(handle: Handle, candidates: Sequence[EntityRecord]) -> str | None:
    groups = [c for c in candidates if c.kind == "Group"]
    users = [c for c in candidates if c.kind == "User"]
    if handle.kind == "team":
        by_slug = [g for g in groups if _annotation(g, TEAM_SLUG).lower() == handle.slug]
        return _first(by_slug) or _first(g for g in groups if g.name.lower() == handle.name)
    if handle.kind == "user":
        return _first(u for u in users if u.name.lower() == handle.name) or _first(
            g for g in groups if g.name.lower() == handle.name
        )
    return _first(u for u in users if _email(u) == handle.name)


def _first(records: Iterable[EntityRecord]) -> str | None:
    ordered = sorted(records, key=lambda r: (r.namespace != "default", r.ref))
    return ordered[0].ref if ordered else None


def _annotation(record: EntityRecord, key: str) -> str:
    value = (record.descriptor.get("metadata") or {}).get("annotations", {}).get(key)
    return value if isinstance(value, str) else ""


def _email(record: EntityRecord) -> str:
    profile = (record.descriptor.get("spec") or {}).get("profile") or {}
    value = profile.get("email") if isinstance(profile, dict) else None
    return value.lower() if isinstance(value, str) else ""
