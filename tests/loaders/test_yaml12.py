"""YAML is read as Backstage reads it (YAML 1.2), with document line numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from graph_api.model.entity import MAX_DEPTH
from loaders.yaml12 import Yaml12Loader, YamlSyntaxError, _fast_documents, iter_documents


def test_yaml_1_2_scalars_stay_strings() -> None:
    (doc,) = iter_documents(
        "owner: no\na: yes\nb: on\nc: off\nd: 1:30\ne: 2024-01-01\nf: true\ng: 0o17\n"
    )
    assert doc.data == {
        "owner": "no",
        "a": "yes",
        "b": "on",
        "c": "off",
        "d": "1:30",
        "e": "2024-01-01",
        "f": True,
        "g": 15,
    }


def test_merge_keys_are_not_applied() -> None:
    (doc,) = iter_documents("base: &b {x: 1}\nm:\n  <<: *b\n")
    assert doc.data["m"] == {"<<": {"x": 1}}


def test_documents_carry_their_line_and_syntax_errors_theirs() -> None:
    text = "a: 1\n---\nb: 2\n---\nc: [1, 2\n"
    seen = []
    with pytest.raises(YamlSyntaxError) as info:
        for doc in iter_documents(text):
            seen.append((doc.line, doc.data))
    assert seen == [(1, {"a": 1}), (3, {"b": 2})]
    assert info.value.line == 6


def _pyyaml_documents(text: str) -> list[tuple[int, object]]:
    loader = Yaml12Loader(text)
    out = []
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            if data is not None:
                out.append((node.start_mark.line + 1, data))
    finally:
        loader.dispose()
    return out


STREAMS = [
    "a: 1\n---\n",
    "---\na: 1\n---\n---\nb: 2\n",
    "- 1\n- 2\n",
    "---\n- 1\n---\n- 2\n",
    "a: 1\n...\n---\nb: 2\n",
    "# c\n--- # x\na: 1\n",
    "a: &x {b: 1}\nc: *x\n",
    "",
    "---\n---\n",
    "--- |\n  text\n---\nb: 1\n",
    "\n\n# hi\napiVersion: x\nkind: y\n---\n\n\nz: 1\n",
    "--- {a: 1}\n--- {b: 2}\n",
    "a:\n  - |\n    x\n    ---\n    y\n",
    "%YAML 1.2\n---\nowner: no\n",
]


@pytest.mark.parametrize("text", STREAMS)
def test_fast_reader_agrees_with_pyyaml(text: str) -> None:
    assert [(d.line, d.data) for d in iter_documents(text)] == _pyyaml_documents(text)


def test_fast_reader_agrees_on_backstage_examples(backstage_examples: Path) -> None:
    files = sorted(backstage_examples.rglob("*.yaml"))
    assert len(files) == 40
    for file in files:
        text = file.read_text(encoding="utf-8")
        fast = _fast_documents(text)
        assert fast is not None, f"{file} fell back to the slow reader"
        assert [(d.line, d.data) for d in fast] == _pyyaml_documents(text), file


def test_duplicate_keys_are_rejected_like_backstage() -> None:
    with pytest.raises(YamlSyntaxError, match="duplicate"):
        list(iter_documents("a: 1\nb: 2\na: 3\n"))


def flow(depth: int) -> str:
    return "[" * depth + "]" * depth


def block(depth: int) -> str:
    """Sequences nested ``depth`` deep in block style, compactly: ``- - - x`` on one line."""
    return "- " * depth + "x\n"


@pytest.mark.parametrize(
    "nest",
    [
        pytest.param(flow, id="flow"),  # yaml-rs reads up to 256 levels of flow, PyYAML more
        pytest.param(block, id="block"),
    ],
)
def test_nesting_up_to_the_limit_is_read_and_past_it_is_an_error_at_its_line(
    nest: Callable[[int], str],
) -> None:
    (doc,) = iter_documents(f"a: 1\nb:\n  {nest(MAX_DEPTH - 1)}\n")
    assert doc.data["a"] == 1
    text = f"a: 1\n---\nb: 1\nc:\n  {nest(MAX_DEPTH)}\n"
    seen = []
    with pytest.raises(YamlSyntaxError, match=f"nested deeper than {MAX_DEPTH} levels") as info:
        for doc in iter_documents(text):
            seen.append(doc.data)
    assert seen == [{"a": 1}]
    assert info.value.line == 5


@pytest.mark.parametrize("depth", [300, 2_000, 20_000])
def test_very_deep_block_nesting_is_an_error_not_a_crash(depth: int) -> None:
    # yaml-rs overflowed the stack and killed the process at ~11,000 levels (a 24 kB file).
    with pytest.raises(YamlSyntaxError, match="nest") as info:
        list(iter_documents("a: 1\nb:\n  " + block(depth)))
    assert info.value.line == 3


def test_nesting_through_aliases_counts_as_expanded() -> None:
    half = MAX_DEPTH // 2 + 1
    text = f"a: &a {flow(half)}\nb:\n  - {'[' * half}*a{']' * half}\n"
    # The line is where the too-deep node is written: inside the anchor, the alias has none.
    with pytest.raises(YamlSyntaxError, match="nested deeper"):
        list(iter_documents(text))


def test_a_document_holding_itself_is_an_error() -> None:
    with pytest.raises(YamlSyntaxError):
        list(iter_documents("a: &x [1, *x]\n"))


def test_the_loader_refuses_deep_nesting_wherever_it_is_used() -> None:
    # $yaml placeholders are read with the loader directly.
    with pytest.raises(yaml.YAMLError, match="nested deeper"):
        yaml.load(f"a: {flow(400)}\n", Loader=Yaml12Loader)
