"""How deep a descriptor may nest: one limit, checked before anything walks the document."""

from __future__ import annotations

from typing import Any

import pytest

from graph_api.model import DescriptorError, parse_entity
from graph_api.model.entity import MAX_DEPTH, too_deep


def component(extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "extra": extra},
    }


def lists(depth: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(depth - 1):
        nested = [nested]
    return nested


def test_a_descriptor_nested_to_the_limit_is_accepted() -> None:
    # document, spec, then the lists: MAX_DEPTH levels in all.
    assert parse_entity(component(lists(MAX_DEPTH - 2))).hash


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, 300, 5_000])
def test_a_descriptor_nested_past_the_limit_is_rejected(depth: int) -> None:
    # Past 255 levels the content hash (orjson) used to raise a TypeError instead.
    with pytest.raises(DescriptorError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_entity(component(lists(depth)))


def test_shared_and_self_holding_data_is_walked_in_bounded_time() -> None:
    shared: list[Any] = []
    for _ in range(60):
        shared = [shared, shared]  # 61 levels, 2 ** 60 paths to the innermost list
    assert too_deep({"a": shared}) is None
    deeper = shared
    for _ in range(40):
        deeper = [shared, deeper]  # the same lists, reached 40 levels further down
    assert too_deep({"a": deeper}) is not None
    loop: list[Any] = []
    loop.append(loop)
    assert too_deep(loop) is not None
