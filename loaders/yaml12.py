"""YAML read as Backstage reads it: YAML 1.2 core schema, documents with their line numbers.

PyYAML implements YAML 1.1, where ``yes``/``no``/``on``/``off`` are booleans, ``<<`` merges
mappings and ``1:30`` is a sexagesimal number. Backstage parses with the JS ``yaml`` package
(YAML 1.2), so ``owner: no`` names the group ``no``. The resolver below keeps PyYAML's fast C
parser and swaps only the implicit typing rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

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
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN\0"),
]
for _tag, _pattern, _first in _CORE_SCHEMA:
    _Yaml12Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


class Yaml12Loader(_BaseLoader, _Yaml12Resolver):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 core-schema typing and no merge keys."""


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


def iter_documents(text: str) -> Iterator[YamlDocument]:
    """Yield each document of ``text`` in order.

    Raises:
        YamlSyntaxError: at the first document that cannot be parsed; the documents before
            it have already been yielded.
    """
    loader = Yaml12Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                line = node.start_mark.line + 1 if node is not None else 1
                yield YamlDocument(line=line, data=loader.construct_document(node))
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark is not None else 1
                problem = exc.problem or str(exc)
                raise YamlSyntaxError(f"invalid YAML: {problem}", line) from None
    finally:
        loader.dispose()
