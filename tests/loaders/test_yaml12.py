"""YAML is read as Backstage reads it (YAML 1.2), with document line numbers."""

from __future__ import annotations

import pytest

from pathlib import Path

from loaders.yaml12 import Yaml12Loader, YamlSyntaxError, _fast_documents, iter_documents


def test_yaml_1_2_scalars_stay_strings() -> None:
    (doc,) = iter_documents("owner: no\na: yes\nb: on\nc: off\nd: 1:30\ne: 2024-01-01\nf: true\ng: 0o17\n")
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
