"""Reading a file peer: an export of another catalog, read whole at every sync.

Accepted as written by the tools that make them: a Backstage ``/api/catalog/entities`` or
``by-query`` response saved as JSON (a list of entities, or ``{"items": [...]}``; their
``relations``, ``status`` and etags are dropped as for a Backstage peer), or catalog YAML (one
or more documents, read as YAML 1.2 as Backstage reads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from federation._fetched import Fetched, PeerUnavailable, RawEntity, catalog_entity
from loaders.yaml12 import YamlSyntaxError, iter_documents


def export_path(url: str) -> Path:
    """The file a file peer's ``url`` names (a path, or a ``file://`` URL)."""
    return Path(url.removeprefix("file://"))


def read_file(url: str) -> Fetched:
    """Every entity in the export at ``url``.

    Raises:
        PeerUnavailable: the file cannot be read or is neither JSON nor YAML.
    """
    path = export_path(url)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PeerUnavailable(f"{path}: {exc}") from exc
    fetched = Fetched(full=True)
    for location, document in _documents(path, text):
        found = catalog_entity(document, location)
        if isinstance(found, RawEntity):
            fetched.entities.append(found)
        else:
            fetched.rejected.append(found)
    return fetched


def _documents(path: Path, text: str) -> list[tuple[str, Any]]:
    if path.suffix.lower() == ".json":
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PeerUnavailable(f"{path}: not JSON: {exc}") from exc
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PeerUnavailable(f"{path}: neither a list of entities nor {{items: [...]}}")
        return [(f"{path}#{index}", item) for index, item in enumerate(items)]
    try:
        return [(f"{path}:{doc.line}", doc.data) for doc in iter_documents(text)]
    except YamlSyntaxError as exc:
        raise PeerUnavailable(f"{path}:{exc.line}: {exc}") from exc
