"""Versions in each ecosystem's own order, and OSV ranges evaluated with them.

PyPI follows PEP 440 (``packaging``); npm, cargo and Go follow SemVer 2.0 (``semver``; Go's
``v`` prefix dropped, build metadata such as ``+incompatible`` ignored as SemVer says); Maven
follows Maven's ``ComparableVersion``. A version a scheme cannot read is never matched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from itertools import zip_longest
from typing import Any

import semver
from packaging.version import InvalidVersion, Version

from graph_api.model.packages import ECOSYSTEMS

Parser = Callable[[str], Any]


# -- Maven ----------------------------------------------------------------------------------
_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}
_RELEASE = str(_QUALIFIERS.index(""))
_Item = int | str | list[Any]


def _qualifier(text: str, followed_by_digit: bool) -> str:
    if followed_by_digit and text in _SHORT:
        return _SHORT[text]
    return _ALIASES.get(text, text)


def _rank(qualifier: str) -> str:
    # Known qualifiers sort by position; unknown ones after all of them, alphabetically.
    if qualifier in _QUALIFIERS:
        return str(_QUALIFIERS.index(qualifier))
    return f"{len(_QUALIFIERS)}-{qualifier}"


def _is_null(item: _Item) -> bool:
    return item == 0 or item == "" or item == []


def _compare(left: _Item, right: _Item | None) -> int:
    """Maven's ``Item.compareTo``: ints > lists > strings; None is a missing item."""
    if isinstance(left, int):
        if right is None:
            return int(left != 0)
        if isinstance(right, int):
            return (left > right) - (left < right)
        return 1
    if isinstance(left, str):
        if right is None:
            return _cmp(_rank(left), _RELEASE)
        if isinstance(right, str):
            return _cmp(_rank(left), _rank(right))
        return -1
    if right is None:
        for item in left:
            result = _compare(item, None)
            if result:
                return result
        return 0
    if isinstance(right, int):
        return -1
    if isinstance(right, str):
        return 1
    for a, b in zip_longest(left, right):
        result = -_compare(b, a) if a is None else _compare(a, b)
        if result:
            return result
    return 0


def _cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _normalise(items: list[_Item]) -> None:
    """Drop trailing null items (0, "", empty lists) as Maven does: 1.0.0 is 1."""
    for index in range(len(items) - 1, -1, -1):
        if _is_null(items[index]):
            del items[index]
        elif not isinstance(items[index], list):
            break


def _maven_items(text: str) -> list[_Item]:
    """Parse as ``ComparableVersion.parseVersion``: ``.`` separates items, ``-`` and a switch
    between digits and letters open a nested list."""
    version = text.lower()
    root: list[_Item] = []
    current = root
    stack = [root]
    digits = False
    start = 0

    def item(chunk: str, numeric: bool) -> _Item:
        return int(chunk) if numeric else _qualifier(chunk, False)

    def nest() -> None:
        nonlocal current
        child: list[_Item] = []
        current.append(child)
        current = child
        stack.append(child)

    for index, char in enumerate(version):
        if char in ".-":
            current.append(0 if index == start else item(version[start:index], digits))
            start = index + 1
            if char == "-":
                nest()
        elif char.isdigit():
            if not digits and index > start:
                current.append(_qualifier(version[start:index], True))
                start = index
                nest()
            digits = True
        else:
            if digits and index > start:
                current.append(item(version[start:index], True))
                start = index
                nest()
            digits = False
    if len(version) > start:
        current.append(item(version[start:], digits))
    while stack:
        _normalise(stack.pop())
    return root


@functools.total_ordering
class MavenVersion:
    """A Maven version ordered as Maven orders it (``1.0-alpha1 < 1.0-rc < 1.0 < 1.0-sp``).

    Example:
        >>> MavenVersion("1.0.0") == MavenVersion("1-ga")
        True
    """

    __slots__ = ("items", "text")

    def __init__(self, text: str) -> None:
        if not text.strip():
            raise ValueError("empty version")
        self.text = text
        self.items = _maven_items(text.strip())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenVersion) and _compare(self.items, other.items) == 0

    def __lt__(self, other: MavenVersion) -> bool:
        return _compare(self.items, other.items) < 0

    def __hash__(self) -> int:
        return hash(repr(self.items))

    def __repr__(self) -> str:
        return f"MavenVersion({self.text!r})"


# -- the schemes ------------------------------------------------------------------------------
def pep440(text: str) -> Version:
    """PEP 440 order, as pip and PyPI use it."""
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from exc


def semantic(text: str) -> semver.Version:
    """SemVer precedence; a leading ``v`` (Go) and build metadata (``+incompatible``) do not
    count, and a short ``1.2`` reads as ``1.2.0``."""
    core = text.strip().removeprefix("v").split("+", 1)[0]
    return semver.Version.parse(core, optional_minor_and_patch=True)


SCHEMES: dict[str, Parser] = {
    "pypi": pep440,
    "npm": semantic,
    "cargo": semantic,
    "golang": semantic,
    "maven": MavenVersion,
}


def scheme_of(ecosystem: str) -> Parser | None:
    """The version scheme of an ecosystem (purl type or OSV name); None when unsupported."""
    name = ECOSYSTEMS.get(ecosystem.split(":", 1)[0].strip().lower())
    return SCHEMES.get(name) if name else None


@functools.lru_cache(maxsize=1 << 18)
def parsed(parser: Parser, text: str) -> Any:
    """A version read by ``parser``, or None when it cannot read it (cached: advisories and
    catalogs repeat the same versions many times)."""
    try:
        return parser(text)
    except (ValueError, TypeError):
        return None


def _events(
    events: Iterable[Mapping[str, Any]], parser: Parser
) -> list[tuple[Any, int, str]] | None:
    """``(version, order, kind)`` sorted by version; None when an event cannot be read."""
    found: list[tuple[Any, int, str]] = []
    for event in events:
        for kind, order in (("introduced", 0), ("fixed", 1), ("last_affected", 1)):
            value = event.get(kind)
            if value is None:
                continue
            if kind == "introduced" and value == "0":
                found.append((None, 0, kind))
                continue
            version = parsed(parser, str(value))
            if version is None:
                return None
            found.append((version, order, kind))
    zero = [e for e in found if e[0] is None]
    rest = sorted((e for e in found if e[0] is not None), key=functools.cmp_to_key(_by_version))
    return zero + rest


def _by_version(a: tuple[Any, int, str], b: tuple[Any, int, str]) -> int:
    if a[0] < b[0]:
        return -1
    if b[0] < a[0]:
        return 1
    return a[1] - b[1]


def in_events(version: Any, events: list[tuple[Any, int, str]]) -> bool:
    """OSV's evaluation: walk the events in version order; ``introduced`` opens a window,
    ``fixed`` closes it at that version, ``last_affected`` just after it."""
    affected = False
    for at, _, kind in events:
        if kind == "introduced":
            if at is None or not version < at:
                affected = True
        elif kind == "fixed":
            if not version < at:
                affected = False
        elif at < version:
            affected = False
    return affected


@functools.lru_cache(maxsize=1 << 12)
def _listed(parser: Parser, versions: tuple[str, ...]) -> frozenset[Any]:
    return frozenset(v for v in (parsed(parser, t) for t in versions) if v is not None)


class AffectedMatcher:
    """One OSV ``affected`` entry, ready to test many versions of its package.

    Args:
        affected: the entry (``ranges``, ``versions``).
        ecosystem: the package's ecosystem, which decides ECOSYSTEM ranges' order.
    """

    def __init__(self, affected: Mapping[str, Any], ecosystem: str) -> None:
        self.parser = scheme_of(ecosystem)
        self.versions = frozenset(str(v) for v in affected.get("versions") or ())
        self.ranges: list[tuple[Parser, list[tuple[Any, int, str]]]] = []
        if self.parser is None:
            return
        self.listed = _listed(self.parser, tuple(sorted(self.versions)))
        for entry in affected.get("ranges") or ():
            kind = entry.get("type")
            # GIT ranges name commits, which a package version cannot be compared with.
            parser = {"ECOSYSTEM": self.parser, "SEMVER": semantic}.get(kind)
            if parser is None:
                continue
            events = _events(entry.get("events") or (), parser)
            if events:
                self.ranges.append((parser, events))

    def matches(self, version: str | None) -> bool:
        """Whether the version is affected; an unpinned or unreadable version never is."""
        if not version or self.parser is None:
            return False
        if version in self.versions:
            return True
        own = parsed(self.parser, version)
        if own is not None and own in self.listed:
            return True
        for parser, events in self.ranges:
            value = own if parser is self.parser else parsed(parser, version)
            if value is not None and in_events(value, events):
                return True
        return False
