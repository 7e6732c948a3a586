"""Git repositories as sources: ``devgraph load git REPO...``.

Each repository is one source (``git:<normalised URL or absolute path>``), read at its HEAD
commit: Backstage descriptors (Location targets followed, into other repositories of the same
run too), CODEOWNERS, dependency manifests, documents and recent activity. A repository whose
HEAD (and every commit it read from other repositories) is the one loaded last time, and whose
last load was clean, is skipped without being read.
"""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import orjson

from graph_api.codeowners import fallback_ref, parse_handle, resolve_handles
from graph_api.ingest import LoadReport, Rejection, apply_source, validate
from graph_api.model import DescriptorError, canonical_ref, parse_entity
from graph_api.model.entity import JSON_OPTIONS, content_hash
from graph_api.model.packages import purl
from graph_api.store import (
    Activity,
    CodeOwnership,
    DocumentRecord,
    EntityRecord,
    GraphStore,
    PackageRecord,
    PackageUse,
    PlacedEntity,
    SourceFacts,
)
from loaders.files import DescriptorReader, SourceRead, Tree
from loaders.git.activity import read_activity
from loaders.git.codeowners import LOCATIONS, CodeOwners
from loaders.git.docs import docs_folders, kind_of, read_document
from loaders.git.manifests import ManifestError, companions, is_manifest, parse_manifest
from loaders.git.repository import (
    GitError,
    GitTree,
    Repository,
    RepositorySpec,
    RunIndex,
    TreeSet,
    path_matcher,
    prepare,
)

DEFAULT_GLOBS = ("**/catalog-info.yaml", "**/catalog-info.yml")
DEFAULT_CACHE = Path(".devgraph/git-cache")
# Bumped when what is read from a repository changes, so unchanged repositories are re-read.
READER_VERSION = 1
SOURCE_LOCATION = "backstage.io/source-location"
MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
OWNER_SOURCE = "devgraph.io/owner-source"
Progress = Callable[[int, int], None]


@dataclass
class GitLoadOptions:
    """How repositories are read.

    Args:
        cache: where clone URLs are cloned (bare) and fetched on later runs.
        globs: descriptor files, gitignore-style, relative to the repository root.
        fetch_remote: fetch URL placeholders that no repository of the run holds over HTTP.
        concurrency: repositories prepared and read at once.
    """

    cache: Path = DEFAULT_CACHE
    globs: tuple[str, ...] = DEFAULT_GLOBS
    fetch_remote: bool = True
    concurrency: int = 4
    actor: str = "system"
    action: str = "load git"

    @property
    def config(self) -> str:
        """What of these options decides what is read: a change re-reads every repository."""
        return content_hash([READER_VERSION, list(self.globs)])


@dataclass(slots=True)
class RepositoryRead:
    """What was read from a repository's commit, before validation."""

    source: SourceRead
    codeowners: CodeOwners | None
    manifests: list[str]
    documents: dict[str, str]
    activity: Activity
    warnings: list[str] = field(default_factory=list)


class GitRepositorySource:
    """One repository at its HEAD commit, as a source.

    Example:
        >>> report = await GitRepositorySource(repo, RunIndex([repo])).load(store)  # doctest: +SKIP
    """

    def __init__(
        self, repo: Repository, run: RunIndex, options: GitLoadOptions | None = None
    ) -> None:
        if repo.head is None:
            raise ValueError(f"{repo.key} has no commit to read")
        self.repo = repo
        self.options = options or GitLoadOptions()
        self.trees = TreeSet(run, repo)
        self.tree = self.trees.tree(repo, repo.head)
        self._files: dict[str, tuple[GitTree, str]] = {}
        self._globs = [path_matcher(g) for g in self.options.globs]

    @property
    def key(self) -> str:
        return self.repo.key

    async def load(self, store: GraphStore) -> LoadReport:
        """Read the commit and make the catalog hold what it says, writing only differences."""
        read = await asyncio.to_thread(self.read)
        return await self.finish(store, read, self.people(read))

    def people(self, read: RepositoryRead) -> list[EntityRecord]:
        """The valid Groups and Users this repository defines, for resolving code owners of
        every repository of the run before any of them is stored."""
        found = []
        for doc in read.source.documents:
            kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
            if not isinstance(kind, str) or kind.lower() not in ("group", "user"):
                continue
            try:
                entity = parse_entity(doc.data)
            except DescriptorError:
                continue
            found.append(
                EntityRecord(
                    ref=entity.ref,
                    kind=entity.kind,
                    namespace=entity.namespace,
                    name=entity.name,
                    descriptor_json=orjson.dumps(entity.descriptor, option=JSON_OPTIONS).decode(),
                )
            )
        return found

    async def finish(
        self, store: GraphStore, read: RepositoryRead, people: Sequence[EntityRecord]
    ) -> LoadReport:
        """Validate what was read (owners from CODEOWNERS filled in) and apply it."""
        await self._fill_owners(store, read, people)
        entities, rejected = await asyncio.to_thread(validate, read.source.documents)
        facts = await asyncio.to_thread(self._facts, read, entities)
        report = await apply_source(
            store,
            self.key,
            entities,
            [*read.source.rejected, *rejected],
            failed_files=read.source.failed_files,
            actor=self.options.actor,
            action=self.options.action,
            facts=facts,
            state=self._state(),
        )
        report.warnings.extend([*read.source.warnings, *read.warnings])
        return report

    def read(self) -> RepositoryRead:
        """Everything the source needs from the commit, blobs fetched in one batch."""
        tree = self.tree
        paths = tree.paths
        descriptors = [p for p in paths if any(match(p) for match in self._globs)]
        owners_file = next((p for p in LOCATIONS if tree.is_file(PurePosixPath(p))), None)
        manifests = [p for p in paths if is_manifest(p)]
        mkdocs = [p for p in paths if posixpath.basename(p) in ("mkdocs.yml", "mkdocs.yaml")]
        tree.prefetch(mkdocs)
        techdocs = docs_folders(mkdocs, tree.text)
        documents = {p: kind for p in paths if (kind := kind_of(p, techdocs)) is not None}
        present = set(paths)
        locks = [lock for m in manifests for lock in companions(m) if lock in present]
        owners = [owners_file] if owners_file else []
        tree.prefetch([*descriptors, *owners, *manifests, *locks, *documents])
        codeowners = None
        if owners_file is not None:
            codeowners = CodeOwners.parse(owners_file, tree.text(owners_file) or "")
        reader = DescriptorReader(fetch_remote=self.options.fetch_remote, prepare=self._prepare)
        source = reader.read([(tree, PurePosixPath(p)) for p in descriptors])
        activity = read_activity(self.repo, tree.commit)
        return RepositoryRead(source, codeowners, manifests, documents, activity)

    def _prepare(self, tree: Tree, path: PurePath, data: Any) -> Any:
        """Remember where each document came from; add the location annotations Backstage
        adds to entities read from a URL, where the descriptor does not set them."""
        if not isinstance(tree, GitTree):
            return data
        key = tree.key(path)
        self._files[tree.name(path)] = (tree, key)
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if isinstance(metadata, dict):
            annotations = metadata.setdefault("annotations", {})
            if isinstance(annotations, dict):
                annotations.setdefault(MANAGED_BY_LOCATION, f"url:{tree.url(key)}")
                folder = posixpath.dirname(key)
                annotations.setdefault(SOURCE_LOCATION, f"url:{tree.folder_url(folder)}")
        return data

    async def _fill_owners(
        self, store: GraphStore, read: RepositoryRead, people: Sequence[EntityRecord]
    ) -> None:
        """Give a Component without ``spec.owner`` the owner CODEOWNERS gives its folder.

        Backstage requires the owner; here CODEOWNERS may supply it, before validation, and
        ``devgraph.io/owner-source: codeowners`` records that it did.
        """
        wanting: list[tuple[dict[str, Any], tuple[str, ...]]] = []
        for doc in read.source.documents:
            data = doc.data
            spec = data.get("spec") if _is_component(data) else None
            if not isinstance(spec, dict) or spec.get("owner"):
                continue
            tree, path = self._files.get(doc.file, (None, ""))
            folder = posixpath.dirname(path)
            ownership = None
            if tree is self.tree and read.codeowners is not None:
                ownership = read.codeowners.for_folder(folder)
            if ownership is None:
                where = f"{folder}/" if folder else "the repository root"
                read.warnings.append(
                    f"{doc.location}: no spec.owner, and no CODEOWNERS rule owns {where}"
                )
                continue
            wanting.append((data, ownership.owners))
        if not wanting:
            return
        handles = [o for _, owners in wanting for o in owners]
        resolved = await resolve_handles(store, handles, people)
        for data, owners in wanting:
            for owner in owners:
                handle = parse_handle(owner)
                ref = resolved.get(owner) or (fallback_ref(handle) if handle else None)
                if ref is not None:
                    data["spec"]["owner"] = ref
                    data["metadata"]["annotations"][OWNER_SOURCE] = "codeowners"
                    break

    def _facts(self, read: RepositoryRead, entities: Sequence[PlacedEntity]) -> SourceFacts:
        """Packages, documents and code owners, each tied to the components of the nearest
        folder (itself or above) that holds a descriptor; and the repository's activity."""
        folders = self._component_folders(read)
        tree = self.tree
        packages: list[PackageUse] = []
        for manifest in read.manifests:
            refs = _nearest(folders, posixpath.dirname(manifest))
            text = tree.text(manifest) if refs else None
            if text is None:
                continue
            try:
                found = parse_manifest(manifest, text, tree.text)
            except ManifestError as exc:
                read.warnings.append(f"{tree.url(manifest)}: manifest not read: {exc}")
                continue
            for item in found:
                record = PackageRecord(
                    purl(item.ecosystem, item.name, item.version),
                    item.ecosystem,
                    item.name,
                    item.version,
                )
                manifest_url = tree.url(manifest)
                packages.extend(
                    PackageUse(ref, record, item.requirement, item.scope, manifest_url)
                    for ref in refs
                )
        documents: list[DocumentRecord] = []
        for path, kind in sorted(read.documents.items()):
            text = tree.text(path)
            if text is None:
                continue
            doc = read_document(path, text, kind)
            documents.append(
                DocumentRecord(
                    id=f"{self.key}#{path}",
                    source=self.key,
                    kind=doc.kind,
                    path=path,
                    title=doc.title,
                    url=tree.url(path),
                    text=doc.text,
                    meta=doc.meta,
                    refs=_nearest(folders, posixpath.dirname(path)),
                )
            )
        code_owners: list[CodeOwnership] = []
        if read.codeowners is not None:
            for folder, refs in sorted(folders.items()):
                ownership = read.codeowners.for_folder(folder)
                if ownership is not None:
                    code_owners.extend(
                        CodeOwnership(
                            ref,
                            list(ownership.owners),
                            ownership.file,
                            ownership.line,
                            ownership.pattern,
                        )
                        for ref in refs
                    )
        packages.sort(key=lambda u: (u.ref, u.package.purl, u.scope, u.manifest))
        return SourceFacts(
            packages=packages,
            documents=documents,
            code_owners=sorted(code_owners, key=lambda c: c.ref),
            activity=read.activity,
        )

    def _component_folders(self, read: RepositoryRead) -> dict[str, list[str]]:
        """Folders of this repository holding Component descriptors, valid or not: facts of
        a component whose descriptor broke stay with the version the catalog keeps."""
        folders: dict[str, list[str]] = {}
        for doc in read.source.documents:
            ref = _component_ref(doc.data)
            tree, path = self._files.get(doc.file, (None, ""))
            if ref is not None and tree is self.tree:
                refs = folders.setdefault(posixpath.dirname(path), [])
                if ref not in refs:
                    refs.append(ref)
        return folders

    def _state(self) -> dict[str, Any]:
        dependencies = sorted(
            [key, ref, commit] for (key, ref), commit in self.trees.dependencies.items()
        )
        return {
            "head": self.repo.head,
            "branch": self.repo.branch,
            "config": self.options.config,
            "dependencies": dependencies,
        }


def _is_component(data: Any) -> bool:
    return isinstance(data, dict) and str(data.get("kind", "")).lower() == "component"


def _component_ref(data: Any) -> str | None:
    if not _is_component(data):
        return None
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace", "default")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return canonical_ref("Component", namespace, name)


def _nearest(folders: dict[str, list[str]], folder: str) -> list[str]:
    """Components of ``folder`` or of the nearest folder above it that has some."""
    while True:
        if folder in folders:
            return list(folders[folder])
        if not folder:
            return []
        folder = posixpath.dirname(folder)


def unchanged(
    recorded: dict[str, Any] | None, repo: Repository, run: RunIndex, config: str
) -> bool:
    """Whether the last clean load read exactly what reading now would."""
    if not recorded or recorded.get("head") != repo.head or recorded.get("config") != config:
        return False
    if recorded.get("rejected") != 0:
        return False  # re-read, so the problem is reported until it is fixed
    for repo_key, ref, commit in recorded.get("dependencies") or []:
        other = run.by_key(repo_key)
        if other is None:
            continue  # not in this run: its files were kept as last read
        try:
            if other.commit_of(ref) != commit:
                return False
        except GitError:
            return False
    return True


def expand(arguments: Sequence[str]) -> list[str]:
    """Repository names from the command line; a regular file lists more, one per line
    (blank lines and ``#`` comments ignored)."""
    found: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = re.sub(r"(^|\s)#.*$", "", line).strip()
                if line:
                    found.append(line)
        else:
            found.append(argument)
    return list(dict.fromkeys(found))


async def load_git(
    store: GraphStore,
    repositories: Sequence[str],
    options: GitLoadOptions | None = None,
    *,
    progress: Progress | None = None,
) -> list[LoadReport]:
    """Load each repository as its own source; report per repository, in the order given.

    A repository that cannot be reached is reported and the others continue; nothing it
    loaded before is touched.

    Example:
        >>> reports = await load_git(store, ["https://github.com/acme/shop.git"])  # doctest: +SKIP
    """
    options = options or GitLoadOptions()
    # One spec per source key: two spellings of one URL must not clone into one cache twice.
    by_key = {}
    for text in repositories:
        spec = RepositorySpec.parse(text)
        by_key.setdefault(spec.key, spec)
    specs = list(by_key.values())
    total = len(specs)
    done = 0
    reports: dict[str, LoadReport] = {}
    limit = asyncio.Semaphore(options.concurrency)

    def finished(report: LoadReport) -> None:
        nonlocal done
        reports[report.source] = report
        done += 1
        if progress is not None:
            progress(done, total)

    async def ready(spec: RepositorySpec) -> Repository | None:
        async with limit:
            try:
                return await asyncio.to_thread(prepare, spec, options.cache)
            except (GitError, OSError) as exc:
                finished(_failed(spec.key, spec.text, f"repository unreachable: {exc}"))
                return None

    prepared = [r for r in await asyncio.gather(*(ready(s) for s in specs)) if r is not None]
    for repo in prepared:
        if repo.head is None:
            finished(LoadReport(source=repo.key, skipped="no commits yet"))
    repos = [r for r in prepared if r.head is not None]
    run = RunIndex(repos)
    states = await store.source_states([r.key for r in repos])
    config = options.config

    async def read(repo: Repository) -> tuple[GitRepositorySource, RepositoryRead] | None:
        async with limit:
            try:
                if await asyncio.to_thread(unchanged, states.get(repo.key), repo, run, config):
                    finished(LoadReport(source=repo.key, skipped="HEAD unchanged"))
                    return None
                source = GitRepositorySource(repo, run, options)
                return source, await asyncio.to_thread(source.read)
            except (GitError, OSError) as exc:
                finished(_failed(repo.key, repo.spec.text, f"repository not readable: {exc}"))
                return None

    # Everything is read before anything is applied, so a CODEOWNERS team or e-mail can name
    # a Group or User that another repository of this run defines.
    reads = [r for r in await asyncio.gather(*(read(repo) for repo in repos)) if r is not None]
    people = [person for source, repo_read in reads for person in source.people(repo_read)]

    # One source at a time, in the order given: which of two sources defining the same ref
    # keeps it must not depend on which finished reading first.
    for source, repo_read in reads:
        finished(await source.finish(store, repo_read, people))
    return [reports[s.key] for s in specs]


def _failed(source: str, where: str, reason: str) -> LoadReport:
    return LoadReport(source=source, rejected=[Rejection(where, reason)])
