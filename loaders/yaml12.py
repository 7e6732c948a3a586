"""YAML read as Backstage reads it: YAML 1.2 core schema, documents with their line numbers.

Backstage parses with the JS ``yaml`` package (YAML 1.2), so ``owner: no`` names the group
``no`` and ``<<`` is an ordinary key. Files are parsed by ``yaml-rs`` (a YAML 1.2 parser in
Rust, ~6x faster than PyYAML's C loader here); each document's line comes from its ``---``
marker. Where that reading is ambiguous or the file is invalid, PyYAML's C parser with YAML 1.2
typing rules reads it instead, to give exact lines and keep the documents before an error.

A document nested more than ``MAX_DEPTH`` levels deep is an error at the line where it goes too
deep, whichever parser reads it; so is one whose aliases expand past ``MAX_ALIASES`` uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
import yaml_rs

from graph_api.model.entity import MAX_DEPTH, too_deep

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is bundled with PyYAML wheels
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Yaml12Resolver(yaml.resolver.Resolver):
    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


_CORE_SCHEMA: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "tag:yaml.org,2002:int",
        r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
]
for _tag, _pattern, _first in _CORE_SCHEMA:
    # An empty plain scalar is null too; PyYAML looks its resolvers up under ''.
    _firsts = [*_first, ""] if _tag.endswith("null") else list(_first)
    _Yaml12Resolver.add_implicit_resolver(_tag, re.compile(_pattern), _firsts)


class Yaml12Loader(_BaseLoader, _Yaml12Resolver):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 core-schema typing and no merge keys, refusing documents nested
    more than ``MAX_DEPTH`` levels deep or whose aliases expand past ``MAX_ALIASES`` uses."""

    def construct_document(self, node: yaml.Node) -> Any:
        # Checked on the node graph, before the constructor recurses through it (a
        # RecursionError a few hundred levels down) or anything walks the expanded data.
        deep = too_deep(node, _collection_nodes)
        if deep is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", deep.start_mark
            )
        if _alias_uses(node) > MAX_ALIASES:
            # PyYAML would share the nodes and leave the expansion (a "billion laughs") to
            # whatever walks the data next.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"aliases expand past {MAX_ALIASES} uses in one document",
                node.start_mark,
            )
        return super().construct_document(node)


def _int12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _mapping_without_merge(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # SafeConstructor.flatten_mapping would apply '<<' merges; YAML 1.2 has none, so '<<' stays a
    # plain key (and is later rejected by the descriptor rules like any unknown field).
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            )
        if key in mapping:
            # Backstage's parser rejects duplicate keys rather than keeping the last one.
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate mapping key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _mapping_without_merge)
# Timestamps are plain strings in YAML 1.2 core schema; they are not resolved above, and an
# explicit !!timestamp tag is rare enough to read as text too.
Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One document of a (multi-document) YAML stream, with its 1-based starting line."""

    line: int
    data: Any


class YamlSyntaxError(ValueError):
    """Unparseable YAML; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


_MARKER = re.compile(r"^---(?:[ \t]|$)", re.MULTILINE)


def _scan(text: str) -> tuple[int, list[int]]:
    """How many documents the stream has, and the 1-based line where each non-empty one's
    content starts (as PyYAML's node marks give it)."""
    documents = 0
    starts: list[int] = []
    pending = True  # content before any marker is a bare first document
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if _MARKER.match(line):
            documents += 1
            rest = line[3:].strip()
            pending = not rest or rest.startswith("#")
            if not pending:
                starts.append(number)
            continue
        if pending and stripped and not stripped.startswith(("#", "%")) and stripped != "...":
            if not starts and documents == 0:
                documents = 1
            starts.append(number)
            pending = False
    return documents, starts


_ALIAS_TOKEN = re.compile(r"(?:^|[\s,\[{:-])\*[^\s,\[\]{}]+")
# yaml-rs recurses once per level of block nesting, which it does not bound (flow nesting it
# refuses past 256), and overflows the stack: a segfault ~11,000 levels deep with 8 MiB. A block
# collection n levels deep starts at least (n - 2) / 2 columns in, at a line's indentation or
# after the "- ", "? " and ": " indicators opening the line; so text whose lines all open with
# fewer than MAX_DEPTH of those characters nests at most about 2 * MAX_DEPTH + 256 levels.
_DEEP_BLOCK = re.compile(rf"^[ \t?:-]{{{MAX_DEPTH},}}", re.MULTILINE)


def _fast_documents(text: str) -> list[YamlDocument] | None:
    """All documents via yaml-rs, or None when PyYAML must read the text instead."""
    # The substring test first: the pattern alone scans a 20k-component estate in 0.4 s.
    if "*" in text and _ALIAS_TOKEN.search(text):
        return None  # aliases: PyYAML's node graph shows how far they expand
    if _DEEP_BLOCK.search(text):
        return None
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except (yaml_rs.YAMLDecodeError, ValueError, TypeError):
        return None
    count, starts = _scan(text)
    if count > 1:
        if not isinstance(data, list):
            return None
        documents = [d for d in data if d is not None]
    else:
        documents = [] if data is None else [data]
    if len(documents) != len(starts) or any(too_deep(doc) is not None for doc in documents):
        return None  # PyYAML's nodes give the line where a document goes too deep
    return [YamlDocument(line=line, data=doc) for line, doc in zip(starts, documents, strict=True)]


MAX_ALIASES = 100  # Backstage's parser (the JS yaml package) refuses past maxAliasCount 100


def _collection_nodes(level: Iterable[yaml.Node]) -> Iterator[yaml.Node]:
    for node in level:
        if isinstance(node, yaml.MappingNode):
            children: Iterable[yaml.Node] = (part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            continue
        for child in children:
            if isinstance(child, yaml.CollectionNode):
                yield child


def _alias_uses(root: yaml.Node) -> int:
    """Alias uses as the document expands them: an alias of a node that itself holds aliases
    counts them all again, which is what a "billion laughs" multiplies."""
    seen = {id(root)}
    expanded: dict[int, int] = {}

    def walk(node: yaml.Node) -> int:
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return 0
        total = 0
        for child in children:
            if id(child) in seen:
                total += 1 + expanded.get(id(child), MAX_ALIASES)
            else:
                seen.add(id(child))
                expanded[id(child)] = walk(child)
                total += expanded[id(child)]
            if total > MAX_ALIASES:
                break
        return total

    return walk(root)


def iter_documents(text: str) -> Iterator[YamlDocument]:
    """Yield each non-empty document of ``text`` in order.

    Raises:
        YamlSyntaxError: at the first document that cannot be parsed; the documents before
            it have already been yielded.
    """
    fast = _fast_documents(text)
    if fast is not None:
        yield from fast
        return
    loader = Yaml12Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                if node is None:
                    continue
                data = loader.construct_document(node)
                if data is not None:
                    yield YamlDocument(line=node.start_mark.line + 1, data=data)
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark is not None else 1
                problem = exc.problem or str(exc)
                raise YamlSyntaxError(f"invalid YAML: {problem}", line) from None
    finally:
        loader.dispose()
