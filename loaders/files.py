"""Descriptor files and folders as sources: ``devgraph load files PATH...``.

Each PATH is one source. Its YAML files are read as Backstage reads them: multi-document,
``Location`` entities followed to their relative targets, ``$text``/``$json``/``$yaml``
placeholders replaced by the referenced file's content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from graph_api.ingest import LoadReport, Rejection, SourceDocument, apply_source, validate
from graph_api.store import GraphStore
from loaders.yaml12 import Yaml12Loader, YamlSyntaxError, iter_documents

YAML_SUFFIXES = (".yaml", ".yml")
PLACEHOLDERS = ("$text", "$json", "$yaml")
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class SourceRead:
    """Everything read from one source, ready for :func:`graph_api.ingest.validate`."""

    documents: list[SourceDocument] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class PlaceholderError(ValueError):
    pass


@dataclass
class FileSource:
    """A descriptor file or folder.

    Args:
        path: a YAML file or a folder searched recursively for ``*.yaml``/``*.yml``.
        fetch_remote: fetch URL placeholders (``$text: https://...``) over HTTP; when off or
            unreachable the placeholder is kept as written and a warning says so.
    """

    path: Path
    fetch_remote: bool = True
    timeout: float = 5.0

    @property
    def key(self) -> str:
        return f"file:{self.path.resolve()}"

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(
                p
                for p in self.path.rglob("*")
                if p.suffix in YAML_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(self.path).parts)
            )
        return [self.path]

    def read(self, progress: Progress | None = None) -> SourceRead:
        """Read every document, following Location targets; never raises for bad input."""
        result = SourceRead()
        if not self.path.exists():
            result.failed_files.append(str(self.path))
            result.rejected.append(Rejection(str(self.path), "no such file or folder"))
            return result
        queue = self.files()
        seen = {p.resolve() for p in queue}
        index = 0
        while index < len(queue):
            file = queue[index]
            index += 1
            for target in self._read_file(file, result):
                if target.resolve() not in seen:
                    seen.add(target.resolve())
                    queue.append(target)
            if progress is not None:
                progress(index, len(queue))
        return result

    def _read_file(self, file: Path, result: SourceRead) -> list[Path]:
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.failed_files.append(name)
            result.rejected.append(Rejection(name, f"cannot read file: {exc}"))
            return []
        targets: list[Path] = []
        try:
            for doc in iter_documents(text):
                if doc.data is None:
                    continue
                location = f"{name}:{doc.line}"
                try:
                    data = self._substitute(doc.data, file.parent)
                except PlaceholderError as exc:
                    result.rejected.append(Rejection(location, str(exc)))
                    continue
                except _RemoteUnavailable as exc:
                    result.warnings.append(f"{location}: {exc}")
                    data = doc.data
                targets.extend(self._location_targets(data, file, location, result))
                result.documents.append(SourceDocument(data, location, name))
        except YamlSyntaxError as exc:
            result.failed_files.append(name)
            result.rejected.append(Rejection(f"{name}:{exc.line}", str(exc)))
        return targets

    def _location_targets(
        self, data: Any, file: Path, location: str, result: SourceRead
    ) -> Iterator[Path]:
        if not isinstance(data, dict) or str(data.get("kind", "")).lower() != "location":
            return
        spec = data.get("spec") or {}
        if not isinstance(spec, dict):
            return
        raw = [spec.get("target"), *(spec.get("targets") or [])]
        for target in raw:
            if not isinstance(target, str) or "://" in target:
                continue  # URL targets are read by the git loader, not from the file system
            matches = sorted(file.parent.glob(target)) if "*" in target else [file.parent / target]
            for match in matches:
                if match.is_file():
                    yield match
                elif spec.get("presence") != "optional":
                    result.warnings.append(f"{location}: Location target {target} not found")

    def _substitute(self, value: Any, base: Path) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, target), = value.items()
                if key in PLACEHOLDERS and isinstance(target, str):
                    return self._resolve(key, target, base)
            return {k: self._substitute(v, base) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, base) for v in value]
        return value

    def _resolve(self, key: str, target: str, base: Path) -> Any:
        if "://" in target:
            text = self._fetch(key, target)
        else:
            path = base / target
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PlaceholderError(f"placeholder {key}: cannot read {target}: {exc}") from exc
        try:
            if key == "$json":
                return json.loads(text)
            if key == "$yaml":
                return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - safe YAML 1.2 loader
        except (ValueError, yaml.YAMLError) as exc:
            raise PlaceholderError(f"placeholder {key}: {target} is not valid: {exc}") from exc
        return text

    def _fetch(self, key: str, url: str) -> str:
        if not self.fetch_remote:
            raise _RemoteUnavailable(f"placeholder {key} {url} not fetched (remote fetch is off)")
        try:
            response = httpx.get(url, timeout=self.timeout, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise _RemoteUnavailable(f"placeholder {key} {url} could not be fetched: {exc}") from exc
        return response.text


class _RemoteUnavailable(Exception):
    """A URL placeholder that cannot be fetched now: the entity loads with it unresolved."""


async def load_files(
    store: GraphStore,
    paths: list[Path],
    *,
    fetch_remote: bool = True,
    progress: Progress | None = None,
    actor: str = "system",
) -> list[LoadReport]:
    """Apply each path as its own source and report what changed.

    Example:
        >>> reports = await load_files(store, [Path("catalog-info.yaml")])  # doctest: +SKIP
    """
    reports = []
    for path in paths:
        source = FileSource(path, fetch_remote=fetch_remote)
        read = source.read(progress)
        entities, rejected = validate(read.documents)
        report = await apply_source(
            store,
            source.key,
            entities,
            [*read.rejected, *rejected],
            failed_files=read.failed_files,
            actor=actor,
            action="load files",
        )
        report.warnings.extend(read.warnings)
        reports.append(report)
    return reports
