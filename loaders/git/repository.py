"""Git plumbing: repositories as named on the command line, cached clones, and the committed
tree read with ``git ls-tree`` and ``git cat-file --batch``.

Everything is read from a commit, never from a working tree, so bare repositories work and
uncommitted edits never leak into the catalog.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from urllib.parse import urlsplit

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from loaders.files import TargetUnavailable, Tree

# No credential prompts (a run must never hang on one), stable English messages, and no
# index refresh locks taken by read-only commands.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
# Variables that would point every command at some other repository.
_GIT_SCOPE = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!//).+)$")
# ``<repository web URL>/blob/<ref>/<path>``; GitLab puts ``/-`` before ``/blob``.
_FILE_URL = re.compile(r"^(?P<base>.+?)(?:/-)?/(?:blob|tree)/(?P<ref>[^/]+)/(?P<path>.+)$")
# Larger blobs are not descriptors, manifests or documents anyone wants in the catalog.
MAX_BLOB_BYTES = 5 * 1024 * 1024
CLONE_TIMEOUT_S = 900.0
GIT_TIMEOUT_S = 120.0


class GitError(RuntimeError):
    """A git command failed; the message is git's own last line of complaint."""


def git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = GIT_TIMEOUT_S,
) -> bytes:
    """Run ``git args`` and return its standard output.

    Raises:
        GitError: on a non-zero exit or a timeout.
    """
    env = {k: v for k, v in os.environ.items() if k not in _GIT_SCOPE} | _GIT_ENV
    command = ["git", *(["-C", str(cwd)] if cwd is not None else []), *args]
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(lines[-1] if lines else f"git {args[0]} exited with {done.returncode}")
    return done.stdout


def path_matcher(pattern: str, *, files_only: bool = True) -> Callable[[str], bool]:
    """A gitignore-style pattern as a test on repository paths.

    Args:
        pattern: gitignore syntax (``**/catalog-info.yaml``, ``/docs/``, ``*.md``).
        files_only: a path inside a folder the pattern names does not match (``docs/*`` is not
            ``docs/a/b``); off, it does, as in gitignore.

    Example:
        >>> path_matcher("**/catalog-info.yaml")("services/a/catalog-info.yaml")
        True
    """
    regex = GitIgnoreSpecPattern(pattern).regex
    if regex is None:
        return lambda path: False

    def matches(path: str) -> bool:
        found = regex.match(path)
        if found is None:
            return False
        # The group is set when the match ends at a separator: the pattern named a folder.
        return not (files_only and found.groupdict().get("ps_d") is not None)

    return matches


@dataclass(frozen=True, slots=True)
class RepositorySpec:
    """A repository as named by the user: a clone URL, or a local working copy or bare repo."""

    text: str
    url: str | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> RepositorySpec:
        """Read a command-line name; anything that is not a URL is a local path."""
        text = text.strip()
        if _URL.match(text) or (_SCP.match(text) and not Path(text).exists()):
            return cls(text=text, url=text)
        return cls(text=text, path=Path(text).expanduser().resolve())

    @property
    def key(self) -> str:
        """The source key: ``git:`` and the normalised URL, or the absolute path."""
        return f"git:{normalise_url(self.url) if self.url else self.path}"


def normalise_url(url: str) -> str:
    """One spelling per repository: no credentials, scheme, ``.git`` or trailing slash.

    Example:
        >>> normalise_url("git@github.com:Acme/Shop.git")
        'github.com/Acme/Shop'
    """
    scp = _SCP.match(url) if not _URL.match(url) else None
    if scp is not None:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return "file://" + _trim(parts.path)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        path = parts.path
    return f"{host.lower()}/{_trim(path).lstrip('/')}"


def web_url(url: str) -> str:
    """Where people browse the repository: ``https://host/path`` (``file://`` stays as is)."""
    normal = normalise_url(url)
    if normal.startswith("file://"):
        return normal
    host, _, path = normal.partition("/")
    return f"https://{host.split(':')[0]}/{path}"


def _trim(path: str) -> str:
    return path.rstrip("/").removesuffix(".git").rstrip("/")


@dataclass(slots=True)
class Repository:
    """A repository ready to read: where its objects are, its web URL, and its HEAD."""

    spec: RepositorySpec
    git_dir: Path
    web_url: str
    head: str | None
    branch: str

    @property
    def key(self) -> str:
        return self.spec.key

    def commit_of(self, ref: str) -> str:
        """The commit a branch, tag or sha names in this repository."""
        if ref == self.branch and self.head is not None:
            return self.head
        out = git(["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], cwd=self.git_dir)
        return out.decode().strip()


def prepare(spec: RepositorySpec, cache: Path) -> Repository:
    """Make the repository readable: clone or fetch a URL into ``cache``, then read HEAD.

    Raises:
        GitError: when it cannot be reached, cloned, fetched or is not a repository.
    """
    if spec.url is not None:
        git_dir = _cached_clone(spec.url, cache)
        browse = web_url(spec.url)
    else:
        if spec.path is None or not spec.path.exists():
            raise GitError(f"{spec.path}: no such repository")
        git_dir = spec.path
        browse = _local_web_url(git_dir)
    head, branch = _head(git_dir)
    return Repository(spec=spec, git_dir=git_dir, web_url=browse, head=head, branch=branch)


def _cached_clone(url: str, cache: Path) -> Path:
    normal = normalise_url(url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", normal.rsplit("/", 1)[-1])[:40] or "repo"
    target = cache / f"{slug}-{hashlib.sha256(normal.encode()).hexdigest()[:12]}.git"
    if target.exists():
        git(["fetch", "--prune", "--quiet", "origin"], cwd=target, timeout=CLONE_TIMEOUT_S)
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Clone beside the target and rename: an interrupted clone never looks like a cache hit.
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        git(["clone", "--bare", "--quiet", "--", url, str(partial)], timeout=CLONE_TIMEOUT_S)
        # A bare clone has no fetch refspec: fetch every branch onto its own name.
        git(["config", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"], cwd=partial)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _local_web_url(git_dir: Path) -> str:
    try:
        origin = git(["config", "--get", "remote.origin.url"], cwd=git_dir).decode().strip()
    except GitError:
        origin = ""
    return web_url(origin) if origin else f"file://{git_dir}"


def _head(git_dir: Path) -> tuple[str | None, str]:
    try:
        out = git(["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"], cwd=git_dir)
    except GitError as exc:
        if "unknown revision" in str(exc) or "ambiguous argument" in str(exc):
            return None, ""  # a repository without commits yet
        raise
    sha, name = out.decode().split()
    return sha, name.removeprefix("refs/heads/") if name != "HEAD" else sha


@dataclass(slots=True)
class _Blob:
    sha: str
    size: int


class GitTree:
    """One commit's files as a :class:`loaders.files.Tree`; blobs are read in batches.

    Args:
        repo: the repository.
        commit: the commit to read.
        resolve_url: resolves URL targets to files of other trees (see ``RunIndex``).
    """

    def __init__(
        self,
        repo: Repository,
        commit: str,
        resolve_url: Callable[[str], tuple[Tree, PurePath] | None] | None = None,
    ) -> None:
        self.repo = repo
        self.commit = commit
        self._resolve_url = resolve_url
        self._blobs: dict[str, _Blob] = {}
        self._content: dict[str, bytes] = {}
        out = git(["ls-tree", "-r", "-z", "-l", "--full-tree", commit], cwd=repo.git_dir)
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, sha, size = meta.split()
            # Regular files only: no submodules (commits) and no symbolic links.
            if kind == b"blob" and mode in (b"100644", b"100755"):
                name = path.decode("utf-8", "surrogateescape")
                self._blobs[name] = _Blob(sha.decode(), int(size))
        self._paths = sorted(self._blobs)

    @property
    def paths(self) -> list[str]:
        return self._paths

    def url(self, path: str) -> str:
        """The file's blob URL (what Backstage's managed-by-location names)."""
        return f"{self.repo.web_url}/blob/{self.repo.branch}/{path}"

    def folder_url(self, folder: str) -> str:
        """The folder's tree URL, with a trailing slash (Backstage's source-location form)."""
        return f"{self.repo.web_url}/tree/{self.repo.branch}/{folder + '/' if folder else ''}"

    def prefetch(self, paths: Sequence[str]) -> None:
        """Read many blobs with one ``git cat-file --batch``."""
        wanted = [
            p
            for p in dict.fromkeys(paths)
            if p in self._blobs and p not in self._content and self._blobs[p].size <= MAX_BLOB_BYTES
        ]
        if not wanted:
            return
        shas = [self._blobs[p].sha for p in wanted]
        listing = "".join(f"{sha}\n" for sha in shas).encode()
        out = git(["cat-file", "--batch"], cwd=self.repo.git_dir, stdin=listing)
        by_sha: dict[str, bytes] = {}
        position = 0
        for _ in shas:
            newline = out.index(b"\n", position)
            sha, _, size = out[position:newline].decode().split()
            start = newline + 1
            by_sha[sha] = out[start : start + int(size)]
            position = start + int(size) + 1
        for path, sha in zip(wanted, shas, strict=True):
            self._content[path] = by_sha[sha]

    def read_bytes(self, path: str) -> bytes:
        """A file's content; OSError when the commit has no such file or it is too large."""
        blob = self._blobs.get(path)
        if blob is None:
            raise FileNotFoundError(f"{path}: not in commit {self.commit[:12]}")
        if blob.size > MAX_BLOB_BYTES:
            raise OSError(f"{path}: larger than {MAX_BLOB_BYTES} bytes")
        if path not in self._content:
            self.prefetch([path])
        return self._content[path]

    def text(self, path: str) -> str | None:
        """A file's text, or None when it is absent, too large or not UTF-8."""
        try:
            return self.read_bytes(path).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # -- loaders.files.Tree -----------------------------------------------------------------
    def name(self, path: PurePath) -> str:
        return self.url(self.key(path))

    def key(self, path: PurePath) -> str:
        normal = posixpath.normpath(str(path))
        return "" if normal == "." else normal

    def read_text(self, path: PurePath) -> str:
        return self.read_bytes(self.key(path)).decode("utf-8")

    def is_file(self, path: PurePath) -> bool:
        return self.key(path) in self._blobs

    def glob(self, folder: PurePath, pattern: str) -> list[PurePath]:
        base = self.key(folder)
        matches = path_matcher("/" + posixpath.normpath(posixpath.join(base, pattern)))
        return [PurePosixPath(p) for p in self.paths if matches(p)]

    def resolve_url(self, url: str) -> tuple[Tree, PurePath] | None:
        return self._resolve_url(url) if self._resolve_url is not None else None


@dataclass
class RunIndex:
    """The repositories of one run, so URL targets into any of them can be read."""

    repositories: list[Repository]
    _by_url: dict[str, Repository] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_url = {r.web_url.lower(): r for r in self.repositories}

    def locate(self, url: str) -> tuple[Repository, str, str] | None:
        """``(repository, ref, path)`` for a blob or tree URL into a repository of any run.

        Raises:
            TargetUnavailable: the URL names a repository file, but not of this run.
        """
        found = _FILE_URL.match(url)
        if found is None:
            return None
        repo = self._by_url.get(found["base"].lower())
        if repo is None:
            raise TargetUnavailable("its repository is not part of this run")
        return repo, found["ref"], found["path"]

    def by_key(self, key: str) -> Repository | None:
        return next((r for r in self.repositories if r.key == key), None)


class TreeSet:
    """The trees one source reads, and the commits of other repositories it read them at."""

    def __init__(self, run: RunIndex, owner: Repository) -> None:
        self.run = run
        self.owner = owner
        # (source key, ref) -> commit read, for every file read from another repository.
        self.dependencies: dict[tuple[str, str], str] = {}
        self._trees: dict[tuple[str, str], GitTree] = {}

    def tree(self, repo: Repository, commit: str) -> GitTree:
        key = (repo.key, commit)
        if key not in self._trees:
            self._trees[key] = GitTree(repo, commit, self.resolve_url)
        return self._trees[key]

    def resolve_url(self, url: str) -> tuple[Tree, PurePath] | None:
        located = self.run.locate(url)
        if located is None:
            return None
        repo, ref, path = located
        try:
            commit = repo.commit_of(ref)
        except GitError as exc:
            raise TargetUnavailable(f"{ref} is not a branch, tag or commit there") from exc
        if repo is not self.owner:
            self.dependencies[(repo.key, ref)] = commit
        return self.tree(repo, commit), PurePosixPath(path)
