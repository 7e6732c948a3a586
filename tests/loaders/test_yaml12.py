"""YAML is read as Backstage reads it (YAML 1.2), with document line numbers."""

from __future__ import annotations

import pytest

from loaders.yaml12 import YamlSyntaxError, iter_documents


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
