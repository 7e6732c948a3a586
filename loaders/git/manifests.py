"""Dependency manifests read as each ecosystem writes them, with lock files for resolved versions.

``pyproject.toml`` (PEP 621, PEP 735 groups, Poetry), ``requirements*.txt``, ``package.json``
(+ ``package-lock.json``), ``go.mod``, ``Cargo.toml`` (+ ``Cargo.lock``) and ``pom.xml``. A
version is set only where it is certain (a lock file, an exact pin, Go's minimal version); the
requirement as written is always kept.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from graph_api.model.packages import package_name

# Reads another file of the same commit by path: None when absent or unreadable.
ReadFile = Callable[[str], str | None]

_REQUIREMENTS = re.compile(r"^(?:.*[-_.])?requirements(?:[-_.](?P<scope>[\w.-]+))?\.txt$")
_NAMES = {"pyproject.toml", "package.json", "go.mod", "Cargo.toml", "pom.xml"}
_LOCKS = {"package.json": "package-lock.json", "Cargo.toml": "Cargo.lock"}
_EXACT_SEMVER = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+][\w.-]+)?$")
_MAVEN_PROPERTY = re.compile(r"\$\{([^}]+)\}")


class ManifestError(ValueError):
    """A manifest that cannot be parsed; its packages are left as the last load had them."""


@dataclass(frozen=True, slots=True)
class ManifestPackage:
    """One dependency a manifest declares."""

    ecosystem: str
    name: str
    version: str | None
    requirement: str | None
    scope: str


def is_manifest(path: str) -> bool:
    name = posixpath.basename(path)
    return name in _NAMES or _requirements_file(path)


def _requirements_file(path: str) -> bool:
    """``requirements.txt``, ``requirements-dev.txt``, or any ``requirements/*.txt``."""
    folder, name = posixpath.split(path)
    if posixpath.basename(folder) == "requirements":
        return name.endswith(".txt")
    return _REQUIREMENTS.match(name) is not None


def companions(path: str) -> list[str]:
    """Lock files that may resolve a manifest's versions: beside it or in a folder above
    (workspaces keep one lock at their root)."""
    lock = _LOCKS.get(posixpath.basename(path))
    if lock is None:
        return []
    return [posixpath.join(folder, lock) for folder in _folders_up(posixpath.dirname(path))]


def parse_manifest(path: str, text: str, read: ReadFile) -> list[ManifestPackage]:
    """Every dependency ``path`` declares, sorted and without duplicates.

    Raises:
        ManifestError: the file is not valid for its format.
    """
    name = posixpath.basename(path)
    try:
        if name == "pyproject.toml":
            found = list(_pyproject(tomllib.loads(text)))
        elif name == "package.json":
            found = list(_package_json(path, json.loads(text), read))
        elif name == "go.mod":
            found = list(_go_mod(text))
        elif name == "Cargo.toml":
            found = list(_cargo(path, tomllib.loads(text), read))
        elif name == "pom.xml":
            found = list(_pom(text))
        else:
            found = list(_requirements(path, text, read, _requirements_scope(path), set()))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ElementTree.ParseError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    except (AttributeError, TypeError, ValueError) as exc:
        raise ManifestError(f"{path}: unexpected structure: {exc}") from exc
    return sorted(set(found), key=lambda p: (p.ecosystem, p.name, p.scope, p.version or ""))


# -- Python -----------------------------------------------------------------------------------
def _python(text: str, scope: str) -> ManifestPackage:
    """A PEP 508 requirement; an exact ``==`` pin (no wildcard) is its version."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{text!r} is not a PEP 508 requirement") from exc
    specifiers = list(requirement.specifier)
    version = None
    if (
        len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and "*" not in str(specifiers[0])
    ):
        version = specifiers[0].version
    written = str(requirement.specifier) or requirement.url or None
    return ManifestPackage("pypi", package_name("pypi", requirement.name), version, written, scope)


def _pyproject(data: dict[str, Any]) -> Iterator[ManifestPackage]:
    project = data.get("project") or {}
    for text in project.get("dependencies") or []:
        yield _python(text, "runtime")
    for extra, texts in (project.get("optional-dependencies") or {}).items():
        for text in texts:
            yield _python(text, f"optional:{extra}")
    # PEP 735 groups; ``{include-group = ...}`` entries repeat another group's requirements.
    for group, entries in (data.get("dependency-groups") or {}).items():
        for entry in entries:
            if isinstance(entry, str):
                yield _python(entry, f"group:{group}")
    poetry = (data.get("tool") or {}).get("poetry") or {}
    yield from _poetry(poetry.get("dependencies") or {}, "runtime")
    yield from _poetry(poetry.get("dev-dependencies") or {}, "dev")
    for group, table in (poetry.get("group") or {}).items():
        yield from _poetry((table or {}).get("dependencies") or {}, f"group:{group}")


def _poetry(table: dict[str, Any], scope: str) -> Iterator[ManifestPackage]:
    for name, value in table.items():
        if name.lower() == "python":
            continue  # the interpreter constraint, not a package
        written = value if isinstance(value, str) else (value or {}).get("version")
        if isinstance(value, list):
            written = None  # several constraints per platform: no single requirement
        # In Poetry a bare version is an exact pin; ``^``, ``~``, ``*`` and ranges are not.
        pinned = written if written and _EXACT_SEMVER.match(written) else None
        if written and written.startswith("=="):
            pinned = written[2:].strip()
        yield ManifestPackage("pypi", package_name("pypi", name), pinned, written, scope)


def _requirements_scope(path: str) -> str:
    """``runtime`` for plain requirements, else what the file name adds (``dev``, ``test``)."""
    folder, name = posixpath.split(path)
    if posixpath.basename(folder) == "requirements":
        stem = name.removesuffix(".txt").lower()
        return "runtime" if stem in ("base", "main", "prod", "production", "common") else stem
    found = _REQUIREMENTS.match(name)
    return (found["scope"] if found and found["scope"] else "runtime").lower()


def _requirements(
    path: str, text: str, read: ReadFile, scope: str, seen: set[str]
) -> Iterator[ManifestPackage]:
    """pip's requirements format: ``-r`` includes followed, other options skipped."""
    seen.add(path)
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement", "-c ", "--constraint")):
            include = line.split(None, 1)[1].strip() if " " in line else line.split("=", 1)[-1]
            if line.startswith(("-c", "--constraint")):
                continue  # constraints pin versions of packages declared elsewhere
            other = posixpath.normpath(posixpath.join(posixpath.dirname(path), include))
            other_text = read(other) if other not in seen else None
            if other_text is not None:
                yield from _requirements(other, other_text, read, scope, seen)
            continue
        if line.startswith("-"):
            continue  # index URLs, editable installs, hashes and other pip options
        # ``--hash`` and other per-requirement options follow the requirement itself.
        yield _python(line.split(" --", 1)[0].strip(), scope)


# -- npm --------------------------------------------------------------------------------------
_NPM_SCOPES = {
    "dependencies": "runtime",
    "devDependencies": "dev",
    "peerDependencies": "peer",
    "optionalDependencies": "optional",
}


def _package_json(path: str, data: dict[str, Any], read: ReadFile) -> Iterator[ManifestPackage]:
    resolved = _npm_lock(path, read)
    for field_name, scope in _NPM_SCOPES.items():
        for name, written in (data.get(field_name) or {}).items():
            version = resolved.get(name)
            if version is None and isinstance(written, str) and _EXACT_SEMVER.match(written):
                version = written.removeprefix("v")
            requirement = written if isinstance(written, str) else None
            yield ManifestPackage("npm", package_name("npm", name), version, requirement, scope)


def _npm_lock(path: str, read: ReadFile) -> dict[str, str]:
    """Versions the nearest ``package-lock.json`` resolved for this package's dependencies."""
    folder = posixpath.dirname(path)
    for lock_path in companions(path):
        text = read(lock_path)
        if text is None:
            continue
        try:
            lock = json.loads(text)
        except json.JSONDecodeError:
            return {}
        prefix = posixpath.relpath(folder or ".", posixpath.dirname(lock_path) or ".")
        found: dict[str, str] = {}
        # v1 lock files: a tree of "dependencies" with versions.
        for name, entry in (lock.get("dependencies") or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                found[name] = entry["version"]
        # v2/v3: "packages" keyed by install path: hoisted to the root, or a workspace's own
        # copy, which wins for that workspace.
        hoisted: dict[str, str] = {}
        own: dict[str, str] = {}
        for key, entry in (lock.get("packages") or {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
                continue
            head, marker, name = key.rpartition("node_modules/")
            if marker and head == "":
                hoisted[name] = entry["version"]
            elif marker and head == f"{prefix}/":
                own[name] = entry["version"]
        return found | hoisted | own
    return {}


# -- Go ---------------------------------------------------------------------------------------
def _go_mod(text: str) -> Iterator[ManifestPackage]:
    """``require`` lines and blocks; versions are exact (minimal version selection)."""
    block = False
    for raw in text.splitlines():
        line, _, comment = raw.partition("//")
        line = line.strip()
        if block:
            if line == ")":
                block = False
                continue
            words = line.split()
        elif line.startswith("require"):
            rest = line.removeprefix("require").strip()
            if rest == "(":
                block = True
                continue
            words = rest.split()
        else:
            continue
        if len(words) >= 2:
            scope = "indirect" if comment.strip() == "indirect" else "runtime"
            yield ManifestPackage("golang", words[0], words[1], words[1], scope)


# -- Rust -------------------------------------------------------------------------------------
_CARGO_SCOPES = {
    "dependencies": "runtime",
    "dev-dependencies": "dev",
    "build-dependencies": "build",
}


def _cargo(path: str, data: dict[str, Any], read: ReadFile) -> Iterator[ManifestPackage]:
    locked = _cargo_lock(path, read)
    tables = [data, *((data.get("target") or {}).values())]
    for table in tables:
        for section, scope in _CARGO_SCOPES.items():
            for key, value in (table.get(section) or {}).items():
                spec = value if isinstance(value, dict) else {"version": value}
                name = spec.get("package") or key  # a renamed dependency names its crate
                written = spec.get("version") if isinstance(spec.get("version"), str) else None
                versions = locked.get(name, [])
                # Several locked versions of one crate: which one this manifest gets is not
                # certain from the lock alone.
                version = versions[0] if len(versions) == 1 else None
                yield ManifestPackage("cargo", name, version, written, scope)


def _cargo_lock(path: str, read: ReadFile) -> dict[str, list[str]]:
    for lock_path in companions(path):
        text = read(lock_path)
        if text is None:
            continue
        try:
            lock = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}
        found: dict[str, list[str]] = {}
        for entry in lock.get("package") or []:
            if isinstance(entry, dict) and "name" in entry and "version" in entry:
                found.setdefault(entry["name"], []).append(entry["version"])
        return found
    return {}


# -- Maven ------------------------------------------------------------------------------------
def _pom(text: str) -> Iterator[ManifestPackage]:
    root = ElementTree.fromstring(text)
    for element in root.iter():
        # Drop the POM namespace so paths read as written.
        element.tag = element.tag.rsplit("}", 1)[-1]
    properties = {child.tag: (child.text or "").strip() for child in root.findall("properties/*")}
    for key in ("version", "groupId"):
        value = root.findtext(key) or root.findtext(f"parent/{key}")
        if value:
            properties[f"project.{key}"] = value.strip()
    managed = {
        _maven_name(dep, properties): (dep.findtext("version") or "").strip()
        for dep in root.findall("dependencyManagement/dependencies/dependency")
    }
    for dep in root.findall("dependencies/dependency"):
        name = _maven_name(dep, properties)
        written = (dep.findtext("version") or "").strip() or managed.get(name) or None
        resolved = _MAVEN_PROPERTY.sub(lambda m: properties.get(m[1], m[0]), written or "")
        # Ranges (``[1.0,2.0)``) and unresolved properties are requirements, not versions.
        version = resolved if resolved and not re.search(r"[\[\](),$]", resolved) else None
        scope = (dep.findtext("scope") or "compile").strip()
        yield ManifestPackage("maven", name, version, written, scope)


def _maven_name(dep: ElementTree.Element, properties: dict[str, str]) -> str:
    group = _MAVEN_PROPERTY.sub(lambda m: properties.get(m[1], m[0]), dep.findtext("groupId") or "")
    artifact = (dep.findtext("artifactId") or "").strip()
    return f"{group.strip()}:{artifact}"


def _folders_up(folder: str) -> Iterator[str]:
    while True:
        yield folder
        if not folder:
            return
        folder = posixpath.dirname(folder)
