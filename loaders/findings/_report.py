"""What the findings loaders share: reading a JSON report with errors that say where it broke,
and finding the catalog entity a report is about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from federation.naming import hub_ref
from federation.peers import hub_units
from graph_api.model import RefError, normalize_ref
from graph_api.store import EntityFilter, EntityOrder, GraphStore
from loaders.git.repository import normalise_url

SOURCE_LOCATION = "backstage.io/source-location"
PROJECT_SLUG = "github.com/project-slug"


class ReportError(ValueError):
    """A report that cannot be loaded: names the file and where in it (line:column or a JSON
    path such as ``runs[0].results[3].locations``). Nothing from the file is written."""

    def __init__(self, file: str | Path, where: str, reason: str) -> None:
        self.file = str(file)
        self.where = where
        self.reason = reason
        super().__init__(f"{file}: {where}: {reason}" if where else f"{file}: {reason}")


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error (a truncated file included) says line and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = exc.msg if exc.pos < len(data) else f"{exc.msg} (the file ends too early)"
        raise ReportError(path, f"line {exc.lineno} column {exc.colno}", reason) from exc


@dataclass(slots=True)
class Doc:
    """A JSON value and its path, for typed reads that fail with the path of the bad value."""

    file: str
    value: Any
    path: str = "$"

    def fail(self, reason: str) -> ReportError:
        return ReportError(self.file, self.path, reason)

    def at(self, key: str | int) -> Doc:
        if isinstance(key, int):
            return Doc(self.file, self.value[key], f"{self.path}[{key}]")
        return Doc(self.file, self.mapping().get(key), f"{self.path}.{key}")

    def mapping(self) -> dict[str, Any]:
        """The value, which must be an object."""
        if not isinstance(self.value, dict):
            raise self.fail(f"must be an object, not {_type(self.value)}")
        return self.value

    def obj(self, key: str, *, required: bool = False) -> Doc:
        """A member that must be an object (``{}`` when absent and not required)."""
        child = self.at(key)
        if child.value is None:
            if required:
                raise child.fail("is required")
            child.value = {}
        if not isinstance(child.value, dict):
            raise child.fail(f"must be an object, not {_type(child.value)}")
        return child

    def items(self, key: str, *, required: bool = False) -> list[Doc]:
        """The elements of a member that must be an array (none when absent and not required)."""
        child = self.at(key)
        if child.value is None:
            if required:
                raise child.fail("is required")
            return []
        if not isinstance(child.value, list):
            raise child.fail(f"must be an array, not {_type(child.value)}")
        return [child.at(index) for index in range(len(child.value))]

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.mapping().get(key)
        if value is None:
            if required:
                raise self.at(key).fail("is required")
            return None
        if not isinstance(value, str):
            raise self.at(key).fail(f"must be a string, not {_type(value)}")
        return value

    def number(self, key: str) -> float | None:
        value = self.mapping().get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.at(key).fail(f"must be a number, not {_type(value)}")
        return float(value)


def first_line(text: str | None) -> str | None:
    """The first non-empty line of a description, for one-line summaries."""
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else None


def root(file: Path, data: Any) -> Doc:
    """The document's top level, which must be an object."""
    doc = Doc(str(file), data)
    if not isinstance(data, dict):
        raise doc.fail(f"must be a JSON object, not {_type(data)}")
    return doc


def _type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


@dataclass(slots=True)
class EntityHints:
    """What a report says about its subject: repository URLs and names."""

    repositories: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


class EntityNotFound(ValueError):
    """No single catalog entity matches the report; the message says to pass ``--entity``."""


async def resolve_entity(
    store: GraphStore, file: str | Path, given: str | None, hints: EntityHints
) -> str:
    """The canonical ref of the entity a report is about.

    ``given`` (``--entity``) wins; otherwise the report's repository is matched to the
    catalog's ``backstage.io/source-location`` and ``github.com/project-slug`` annotations, then
    its names to component names.

    Raises:
        EntityNotFound: the entity does not exist, or none or several match.
    """
    if given is not None:
        try:
            ref = normalize_ref(given, default_kind="Component")
        except RefError as exc:
            raise EntityNotFound(f"--entity {given!r}: {exc}") from exc
        (record,) = await store.get_entities([ref])
        if record is None or record.stub:
            raise EntityNotFound(f"--entity {ref}: no such entity in the catalog")
        return ref
    for candidates in (
        await _by_repository(store, hints.repositories),
        await _by_name(store, hints.names),
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise EntityNotFound(
                f"{file}: the report matches {len(candidates)} entities "
                f"({', '.join(candidates[:5])}); pass --entity to choose one"
            )
    said = ", ".join([*hints.repositories, *hints.names]) or "nothing about its subject"
    raise EntityNotFound(
        f"{file}: no catalog entity matches what the report names ({said}); "
        "pass --entity component:<name>"
    )


def repository_key(url: str, *, keep_case: bool = False) -> str | None:
    """``host/path`` of a repository URL or a source-location value (lower-cased: hosts
    compare repository paths without case); None for other text."""
    text = url.strip().removeprefix("url:").strip()
    if not text or "/" not in text:
        return None
    normal = normalise_url(text)
    for marker in ("/-/", "/tree/", "/blob/", "/src/"):
        normal = normal.split(marker, 1)[0]
    normal = normal.rstrip("/")
    return (normal if keep_case else normal.lower()) or None


async def _by_repository(store: GraphStore, repositories: Sequence[str]) -> list[str]:
    keys = {k for k in map(repository_key, repositories) if k}
    if not keys:
        return []
    found: set[str] = set()
    for url in repositories:
        written = repository_key(url, keep_case=True) or ""
        if written.lower().startswith("github.com/"):
            # The annotation is compared as written: try the slug as the URL spells it, and
            # lower-cased.
            slug = written.split("/", 1)[1]
            for spelling in {slug, slug.lower()}:
                where = EntityFilter(annotation=f"{PROJECT_SLUG}={spelling}")
                found.update(await _refs(store, where))
    if found:
        return _prefer_components(found)
    # Source locations are URLs in many spellings: compare them normalised, one by one.
    located, _ = await store.find_entities(
        EntityFilter(annotation=SOURCE_LOCATION), EntityOrder.REF, False, 0, 1_000_000
    )
    for record in located:
        annotations = record.descriptor.get("metadata", {}).get("annotations") or {}
        if repository_key(str(annotations.get(SOURCE_LOCATION, ""))) in keys:
            found.add(record.ref)
    return _prefer_components(found)


async def _by_name(store: GraphStore, names: Sequence[str]) -> list[str]:
    # On a hub, a name none of the hub's own components has is looked up in every unit, as a
    # peer's refs are: several matches make the report ambiguous, for the caller to refuse.
    units = await hub_units(store)
    found: set[str] = set()
    for name in {n.strip().lower() for n in names if n and n.strip()}:
        own = f"component:default/{name}"
        for refs in ([own], [hub_ref(unit, own) for unit in units]):
            named = {r.ref for r in await store.get_entities(refs) if r and not r.stub}
            if named:
                found |= named
                break
    return sorted(found)


async def _refs(store: GraphStore, where: EntityFilter) -> set[str]:
    records, _ = await store.find_entities(where, EntityOrder.REF, False, 0, 1_000_000)
    return {r.ref for r in records}


def _prefer_components(refs: set[str]) -> list[str]:
    # A repository is often annotated on its component and on the system or API it provides;
    # findings belong to the component.
    components = sorted(r for r in refs if r.startswith("component:"))
    return components or sorted(refs)
