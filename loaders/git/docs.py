"""Documents that live beside code: READMEs, TechDocs pages (``mkdocs.yml`` + ``docs/``),
runbooks and architecture decision records in MADR form."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from loaders.yaml12 import Yaml12Loader

TEXT_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc")
ADR_FOLDERS = frozenset(
    {
        "adr",
        "adrs",
        "decisions",
        "decision-records",
        "architecture-decisions",
        "architecture-decision-records",
    }
)
_ADR_FILE = re.compile(r"^\d{3,}[-_].+\.(?:md|markdown)$", re.IGNORECASE)
_FRONT_MATTER = re.compile(
    r"\A---[ \t]*\r?\n(?P<yaml>.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S
)
_ATX = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t#]*$", re.M)
_SETEXT = re.compile(r"^(?P<title>[^\n]+)\n(?:=+|-+)[ \t]*$", re.M)
# MADR 2 wrote its metadata as a list under the title: ``* Status: accepted``.
_MADR2 = re.compile(
    r"^[*-][ \t]+(?P<key>Status|Deciders|Date)[ \t]*:[ \t]*(?P<value>.+)$", re.M | re.I
)


class _MkdocsLoader(Yaml12Loader):  # type: ignore[misc]
    """mkdocs.yml uses tags such as ``!ENV`` and ``!!python/name:``; they read as null."""


_MkdocsLoader.add_multi_constructor("", lambda loader, suffix, node: None)


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """A document found in a repository: its kind, title and what its front matter says."""

    path: str
    kind: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def docs_folders(paths: Iterable[str], read: Any) -> set[str]:
    """TechDocs folders: each ``mkdocs.yml``'s ``docs_dir`` (default ``docs``) beside it."""
    folders: set[str] = set()
    for path in paths:
        if posixpath.basename(path) not in ("mkdocs.yml", "mkdocs.yaml"):
            continue
        config: Any = None
        text = read(path)
        if text is not None:
            try:
                config = yaml.load(text, Loader=_MkdocsLoader)  # noqa: S506 - safe loader
            except yaml.YAMLError:
                config = None
        docs_dir = config.get("docs_dir") if isinstance(config, dict) else None
        name = docs_dir if isinstance(docs_dir, str) and docs_dir else "docs"
        folders.add(posixpath.normpath(posixpath.join(posixpath.dirname(path), name)))
    return folders


def kind_of(path: str, techdocs: set[str]) -> str | None:
    """ADR, RUNBOOK, DOCS or README for a document path; None for anything else."""
    folder, name = posixpath.split(path)
    lower = name.lower()
    parts = [p.lower() for p in folder.split("/") if p]
    stem = lower.rsplit(".", 1)[0] if "." in lower else lower
    if not lower.endswith(TEXT_SUFFIXES) and stem != "readme":
        return None
    if _ADR_FILE.match(name) and ADR_FOLDERS & set(parts):
        return "ADR"
    if "runbook" in lower or {"runbooks", "runbook"} & set(parts):
        return "RUNBOOK"
    if stem == "readme":
        return "README"
    if "docs" in parts or any(_inside(folder, docs) for docs in techdocs):
        return "DOCS"
    return None


def read_document(path: str, text: str, kind: str) -> DocumentFile:
    """Title (first heading, else the file name) and MADR metadata of one document."""
    body = text
    meta: dict[str, Any] = {}
    front = _FRONT_MATTER.match(text)
    if front is not None:
        body = text[front.end() :]
        try:
            data = yaml.load(front["yaml"], Loader=Yaml12Loader)  # noqa: S506 - safe loader
        except yaml.YAMLError:
            data = None
        if isinstance(data, dict):
            meta = _madr(data)
    if kind == "ADR" and not meta:
        meta = _madr({m["key"].lower(): m["value"].strip() for m in _MADR2.finditer(body[:2000])})
    return DocumentFile(path=path, kind=kind, title=_title(body, path), text=text, meta=meta)


def _madr(data: dict[str, Any]) -> dict[str, Any]:
    """MADR front matter: ``status``, ``date`` and ``decision-makers`` (``deciders`` before
    MADR 3), as plain strings."""
    meta: dict[str, Any] = {}
    for key in ("status", "date"):
        if data.get(key) is not None:
            meta[key] = str(data[key]).strip()
    makers = data.get("decision-makers", data.get("deciders"))
    if isinstance(makers, str):
        makers = [m.strip() for m in makers.split(",")]
    if isinstance(makers, list):
        meta["decision_makers"] = [str(m).strip() for m in makers if str(m).strip()]
    return meta


def _title(body: str, path: str) -> str:
    headings = [m for m in (_ATX.search(body), _SETEXT.search(body)) if m is not None]
    if headings:
        return min(headings, key=lambda m: m.start())["title"].strip()
    return posixpath.basename(path)


def _inside(folder: str, parent: str) -> bool:
    return parent in ("", ".") or folder == parent or folder.startswith(parent + "/")
