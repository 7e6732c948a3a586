"""CODEOWNERS as GitHub and GitLab read it: who owns a folder of a repository.

Patterns are gitignore-style with the code-owner differences: a pattern ending in a wildcard
(``docs/*``) matches files directly in that folder, not deeper ones; ``!`` does not re-include
but (GitLab) excludes paths from the section it appears in; ``[Section]`` headers (GitLab) each
pick their own last matching line, and a file's owners are those of every section. Without
sections the whole file is one section, so the LAST matching line wins, as on GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from loaders.git.repository import path_matcher

# Where each forge looks, first found wins (GitHub: .github/, root, docs/; GitLab: root,
# docs/, .gitlab/). A repository keeps one; the order settles the rare case of several.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
# ``^[Name][2] @default @owners`` : optional marker, name, approvals, default owners.
_SECTION = re.compile(r"^\^?\[(?P<name>[^\]]+)\](?:\[\d+\])?\s*(?P<owners>.*)$")
# A file name no name pattern (``*.py``, ``README``) is written for: a folder's owners are
# those of a file directly inside it that only folder patterns can match.
_PROBE = "\uffff"


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern line: its owners (empty means "no owners"), where it is, what it says."""

    pattern: str
    owners: tuple[str, ...]
    line: int
    exclude: bool
    matches: Callable[[str], bool] = field(compare=False, repr=False)


@dataclass(slots=True)
class Section:
    name: str
    default_owners: tuple[str, ...] = ()
    rules: list[Rule] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ownership:
    """The owners a CODEOWNERS file gives a path, and the rule that decided it."""

    owners: tuple[str, ...]
    file: str
    line: int
    pattern: str


@dataclass(slots=True)
class CodeOwners:
    """A parsed CODEOWNERS file.

    Example:
        >>> rules = CodeOwners.parse("CODEOWNERS", "* @acme/all\\n/svc/ @acme/svc\\n")
        >>> rules.for_folder("svc/api").owners
        ('@acme/svc',)
    """

    file: str
    sections: list[Section]

    @classmethod
    def parse(cls, file: str, text: str) -> CodeOwners:
        lines = [_strip_comment(raw) for raw in text.splitlines()]
        # GitLab reads a pattern without a leading slash as starting with ``**/`` (even
        # ``app/models``); GitHub as gitignore does (anchored when it has a slash inside).
        gitlab = file.startswith(".gitlab/") or any(_SECTION.match(line) for line in lines)
        sections = [Section(name="")]
        by_name = {"": sections[0]}
        current = sections[0]
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            header = _SECTION.match(line)
            if header is not None:
                # Sections with the same name (any case) are one section.
                name = header["name"].strip().lower()
                section = by_name.get(name)
                if section is None:
                    section = by_name[name] = Section(name=name)
                    sections.append(section)
                section.default_owners = tuple(header["owners"].split()) or section.default_owners
                current = section
                continue
            pattern, owners = _split_entry(line)
            exclude = pattern.startswith("!")
            pattern = pattern.removeprefix("!")
            current.rules.append(
                Rule(
                    pattern=pattern,
                    owners=tuple(owners) or (() if exclude else current.default_owners),
                    line=number,
                    exclude=exclude,
                    matches=_matcher(pattern, gitlab=gitlab),
                )
            )
        return cls(file=file, sections=sections)

    def for_path(self, path: str) -> Ownership | None:
        """Owners of a file path; None when no rule gives it any."""
        owners: list[str] = []
        decided: Rule | None = None
        for section in self.sections:
            matching = [rule for rule in section.rules if rule.matches(path)]
            # GitLab: an exclusion holds for its whole section, wherever it stands.
            if not matching or any(rule.exclude for rule in matching):
                continue
            rule = matching[-1]
            if rule.owners and decided is None:
                decided = rule
            owners.extend(o for o in rule.owners if o not in owners)
        if decided is None or not owners:
            return None
        return Ownership(tuple(owners), self.file, decided.line, decided.pattern)

    def for_folder(self, folder: str) -> Ownership | None:
        """Owners of a folder (``""`` is the repository root)."""
        return self.for_path(f"{folder}/{_PROBE}" if folder else _PROBE)


def _strip_comment(raw: str) -> str:
    # ``#`` starts a comment unless escaped (``\\#file``); the escape stays for the pattern.
    line = re.sub(r"(?<!\\)#.*$", "", raw)
    return line.strip()


def _split_entry(line: str) -> tuple[str, list[str]]:
    """The pattern (``\\ `` escapes a space in it) and the owners after it."""
    parts = re.split(r"(?<!\\)\s+", line)
    return parts[0].replace("\\ ", " "), parts[1:]


def _matcher(pattern: str, *, gitlab: bool) -> Callable[[str], bool]:
    # No character ranges in CODEOWNERS (GitHub): brackets are literal characters.
    escaped = pattern.replace("[", r"\[").replace("]", r"\]")
    if gitlab and not escaped.startswith(("/", "**/", "*")):
        escaped = f"**/{escaped}"
    last = escaped.rstrip("/").rsplit("/", 1)[-1]
    # A pattern ending in a wildcard names files; one ending in a name or ``**`` names a
    # folder too, and so everything below it.
    files_only = any(c in last for c in "*?") and last != "**"
    return path_matcher(escaped, files_only=files_only)
