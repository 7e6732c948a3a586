"""Packages as manifests name them: ecosystems, normalised names, purls and version ranges.

A package is identified by its purl (https://github.com/package-url/purl-spec): with a
version when the manifest or its lock file pins one, without when only a requirement is known.
Ecosystems are purl types (``pypi``, ``npm``, ``golang``, ``cargo``, ``maven``); the names OSV
uses (``PyPI``, ``Go``, ``crates.io``, ``Maven``) are accepted as aliases.
"""

from __future__ import annotations

from packageurl import PackageURL
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ECOSYSTEMS: dict[str, str] = {
    "pypi": "pypi",
    "npm": "npm",
    "golang": "golang",
    "go": "golang",
    "cargo": "cargo",
    "crates.io": "cargo",
    "maven": "maven",
}


def ecosystem_of(text: str) -> str:
    """The purl type for an ecosystem name, case-insensitively; ValueError for unknown ones."""
    found = ECOSYSTEMS.get(text.strip().lower())
    if found is None:
        raise ValueError(f"unknown ecosystem {text!r}: one of {', '.join(sorted(ECOSYSTEMS))}")
    return found


def package_name(ecosystem: str, name: str) -> str:
    """The name as devgraph shows and matches it: PEP 503 for PyPI, lower-case for npm.

    Example:
        >>> package_name("pypi", "Django_REST.framework")
        'django-rest-framework'
    """
    if ecosystem == "pypi":
        return str(canonicalize_name(name))
    if ecosystem == "npm":
        return name.lower()
    return name


def lookup_names(name: str) -> list[str]:
    """Every stored form a user-typed name may take (exact, lower-case, PEP 503)."""
    return sorted({name, name.lower(), str(canonicalize_name(name))})


def purl(ecosystem: str, name: str, version: str | None = None) -> str:
    """The package URL; ``name`` is ``group:artifact`` for Maven and ``@scope/name`` for npm.

    Example:
        >>> purl("npm", "@angular/core", "17.0.1")
        'pkg:npm/%40angular/core@17.0.1'
    """
    namespace: str | None = None
    if ecosystem == "maven":
        namespace, _, name = name.rpartition(":")
    elif ecosystem in ("npm", "golang") and "/" in name:
        namespace, _, name = name.rpartition("/")
    return str(
        PackageURL(type=ecosystem, namespace=namespace or None, name=name, version=version or None)
    )


def parse_range(text: str) -> SpecifierSet:
    """A version range in PEP 440 comparison syntax (``>=1.2,<2``), for any ecosystem."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise ValueError(f"versionRange {text!r} is not a range like '>=1.2,<2': {exc}") from exc


def in_range(version: str | None, specifiers: SpecifierSet) -> bool:
    """Whether a pinned version lies in the range; unpinned or unparseable versions never do.

    Go's leading ``v`` is ignored; pre-releases count, as a pinned pre-release is in use.
    """
    if not version:
        return False
    try:
        parsed = Version(version.removeprefix("v"))
    except InvalidVersion:
        return False
    return specifiers.contains(parsed, prereleases=True)


def normalize_purl(text: str) -> str:
    """A user-typed purl in the form stored (``pkg:PyPI/Requests`` is ``pkg:pypi/requests``)."""
    try:
        return str(PackageURL.from_string(text.strip()))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a package URL: {exc}") from exc
