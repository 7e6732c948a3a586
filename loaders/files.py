"""Descriptor files and folders as sources: ``devgraph load files PATH...``.

Each PATH is one source. Its YAML files are read as Backstage reads them: multi-document,
``Location`` entities followed to their relative targets, ``$text``/``$json``/``$yaml``
placeholders replaced by the referenced file's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol

import httpx
import yaml

from graph_api.ingest import LoadReport, Rejection, SourceDocument, apply_source, validate
from graph_api.store import GraphStore
from loaders import collector_paused
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
    # What the read depended on (file digests, listings): see FileSource.unchanged_since.
    fingerprint: dict[str, Any] = field(default_factory=dict)


class PlaceholderError(ValueError):
    pass


class TargetUnavailable(Exception):
    """A URL target that names a file this run knows of but cannot read now: what the source
    loaded from it before is kept."""


class Tree(Protocol):
    """Where descriptors, and the files their Location targets and placeholders name, are read:
    the file system, or a commit of a git repository."""

    def name(self, path: PurePath) -> str:
        """How locations name the file (``/abs/catalog-info.yaml``, a blob URL)."""

    def key(self, path: PurePath) -> str:
        """The file's identity, so each file is read once however it is reached."""

    def read_text(self, path: PurePath) -> str:
        """The file's text; OSError or UnicodeDecodeError when it cannot be read."""

    def is_file(self, path: PurePath) -> bool: ...

    def glob(self, folder: PurePath, pattern: str) -> list[PurePath]: ...

    def resolve_url(self, url: str) -> tuple[Tree, PurePath] | None:
        """The tree and path a URL names, when it is a file this run can read.

        Raises:
            TargetUnavailable: it names a known file that cannot be read now.
        """


class FileSystemTree:
    """Files on disk; URL targets are not followed (the git loader reads those)."""

    def name(self, path: PurePath) -> str:
        return str(path)

    def key(self, path: PurePath) -> str:
        return str(Path(path).resolve())

    def read_text(self, path: PurePath) -> str:
        # YAML allows a leading byte order mark, and Backstage's parser skips it.
        return Path(path).read_text(encoding="utf-8-sig")

    def is_file(self, path: PurePath) -> bool:
        return Path(path).is_file()

    def glob(self, folder: PurePath, pattern: str) -> list[PurePath]:
        return sorted(Path(folder).glob(pattern))

    def resolve_url(self, url: str) -> tuple[Tree, PurePath] | None:
        return None


class RecordingTree(FileSystemTree):
    """Files on disk, remembering every answer a read depended on, so that a later load can
    tell, without parsing anything, whether reading again could give another result."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}

    def read_text(self, path: PurePath) -> str:
        text = super().read_text(path)
        self.answers[f"read:{self.key(path)}"] = _digest(text)
        return text

    def is_file(self, path: PurePath) -> bool:
        found = super().is_file(path)
        self.answers[f"is_file:{self.key(path)}"] = found
        return found

    def glob(self, folder: PurePath, pattern: str) -> list[PurePath]:
        found = super().glob(folder, pattern)
        self.answers[f"glob:{self.key(folder)}:{pattern}"] = [str(p) for p in found]
        return found


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _answers_hold(answers: dict[str, Any]) -> bool:
    """Whether the file system still gives every recorded answer."""
    tree = FileSystemTree()
    for question, answer in answers.items():
        kind, _, rest = question.partition(":")
        try:
            if kind == "read":
                current: Any = _digest(tree.read_text(PurePath(rest)))
            elif kind == "is_file":
                current = tree.is_file(PurePath(rest))
            else:
                folder, _, pattern = rest.rpartition(":")
                current = [str(p) for p in tree.glob(PurePath(folder), pattern)]
        except (OSError, UnicodeDecodeError):
            return False
        if current != answer:
            return False
    return True


@dataclass
class DescriptorReader:
    """Reads descriptor files as Backstage does, from any :class:`Tree`.

    Args:
        fetch_remote: fetch URL placeholders (``$text: https://...``) over HTTP when no tree
            of this run holds them; when off or unreachable the placeholder is kept as written
            and a warning says so.
        prepare: called with each document's data (after placeholder substitution) and the
            tree and path it came from; returns the data to validate.
    """

    fetch_remote: bool = True
    timeout: float = 5.0
    prepare: Callable[[Tree, PurePath, Any], Any] | None = None

    def read(
        self, files: list[tuple[Tree, PurePath]], progress: Progress | None = None
    ) -> SourceRead:
        """Read every document, following Location targets; never raises for bad input."""
        result = SourceRead()
        queue = list(files)
        seen = {(id(tree), tree.key(path)) for tree, path in queue}
        index = 0
        while index < len(queue):
            tree, file = queue[index]
            index += 1
            for target_tree, target in self._read_file(tree, file, result):
                key = (id(target_tree), target_tree.key(target))
                if key not in seen:
                    seen.add(key)
                    queue.append((target_tree, target))
            if progress is not None:
                progress(index, len(queue))
        return result

    def _read_file(
        self, tree: Tree, file: PurePath, result: SourceRead
    ) -> list[tuple[Tree, PurePath]]:
        name = tree.name(file)
        try:
            text = tree.read_text(file)
        except (OSError, UnicodeDecodeError) as exc:
            result.failed_files.append(name)
            result.rejected.append(Rejection(name, f"cannot read file: {exc}"))
            return []
        targets: list[tuple[Tree, PurePath]] = []
        try:
            for doc in iter_documents(text):
                if doc.data is None:
                    continue
                location = f"{name}:{doc.line}"
                try:
                    # Every placeholder key starts with "$": most files have none to replace.
                    data = doc.data
                    if "$" in text:
                        data = self._substitute(doc.data, tree, file.parent)
                except PlaceholderError as exc:
                    result.rejected.append(Rejection(location, str(exc)))
                    continue
                except _RemoteUnavailable as exc:
                    result.warnings.append(f"{location}: {exc}")
                    data = doc.data
                if self.prepare is not None:
                    data = self.prepare(tree, file, data)
                targets.extend(self._location_targets(data, tree, file, location, result))
                result.documents.append(SourceDocument(data, location, name))
        except YamlSyntaxError as exc:
            result.failed_files.append(name)
            result.rejected.append(Rejection(f"{name}:{exc.line}", str(exc)))
        except RecursionError:
            result.failed_files.append(name)
            result.rejected.append(Rejection(name, "invalid YAML: nested too deeply"))
        return targets

    def _location_targets(
        self, data: Any, tree: Tree, file: PurePath, location: str, result: SourceRead
    ) -> Iterator[tuple[Tree, PurePath]]:
        if not isinstance(data, dict) or str(data.get("kind", "")).lower() != "location":
            return
        spec = data.get("spec") or {}
        if not isinstance(spec, dict):
            return
        raw = [spec.get("target"), *(spec.get("targets") or [])]
        for target in raw:
            if not isinstance(target, str):
                continue
            if "://" in target:
                try:
                    found = tree.resolve_url(target)
                except TargetUnavailable as exc:
                    result.warnings.append(f"{location}: Location target {target} not read: {exc}")
                    result.failed_files.append(target)
                    continue
                if found is not None:
                    yield found
                continue
            folder = file.parent
            matches = tree.glob(folder, target) if "*" in target else [folder / target]
            for match in matches:
                if tree.is_file(match):
                    yield tree, match
                elif spec.get("presence") != "optional":
                    result.warnings.append(f"{location}: Location target {target} not found")

    def _substitute(self, value: Any, tree: Tree, base: PurePath) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, target), = value.items()
                if key in PLACEHOLDERS and isinstance(target, str):
                    return self._resolve(key, target, tree, base)
            return {k: self._substitute(v, tree, base) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, tree, base) for v in value]
        return value

    def _resolve(self, key: str, target: str, tree: Tree, base: PurePath) -> Any:
        try:
            found = tree.resolve_url(target) if "://" in target else (tree, base / target)
        except TargetUnavailable as exc:
            raise _RemoteUnavailable(f"placeholder {key} {target} not read: {exc}") from exc
        if found is None:
            text = self._fetch(key, target)
        else:
            source_tree, path = found
            try:
                text = source_tree.read_text(path)
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
        if not self.path.exists():
            result = SourceRead()
            result.failed_files.append(str(self.path))
            result.rejected.append(Rejection(str(self.path), "no such file or folder"))
            return result
        tree = RecordingTree()
        files = self.files()
        reader = DescriptorReader(fetch_remote=self.fetch_remote, timeout=self.timeout)
        result = reader.read([(tree, path) for path in files], progress)
        result.fingerprint = {"files": [str(p) for p in files], "answers": tree.answers}
        return result

    def unchanged_since(self, fingerprint: Any) -> bool:
        """Whether a read now would see exactly what the read with ``fingerprint`` saw.

        Remote placeholders are never re-checked: with ``fetch_remote`` on, a source using
        them is always read again.
        """
        if not isinstance(fingerprint, dict) or not fingerprint.get("answers"):
            return False
        if not self.path.exists() or fingerprint.get("files") != [str(p) for p in self.files()]:
            return False
        return _answers_hold(fingerprint["answers"])


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
    sources = [FileSource(path, fetch_remote=fetch_remote) for path in paths]
    states = await store.source_states([s.key for s in sources])
    for source in sources:
        recorded = states.get(source.key) or {}
        # A source that loaded cleanly and whose files all read the same is not parsed again:
        # an unchanged re-load then costs file hashing, not YAML and validation.
        if (
            recorded.get("rejected") == 0
            and not recorded.get("remote")
            and source.unchanged_since(recorded.get("fingerprint"))
        ):
            defined = await store.source_claims(source.key)
            reports.append(
                LoadReport(source=source.key, unchanged=len(defined), skipped="files unchanged")
            )
            continue
        with collector_paused():
            read = source.read(progress)
            entities, rejected = validate(read.documents)
            uses_remote = fetch_remote and any("://" in w for w in read.warnings)
            report = await apply_source(
                store,
                source.key,
                entities,
                [*read.rejected, *rejected],
                failed_files=read.failed_files,
                actor=actor,
                action="load files",
                state={"fingerprint": read.fingerprint, "remote": uses_remote},
            )
        report.warnings.extend(read.warnings)
        reports.append(report)
    return reports
