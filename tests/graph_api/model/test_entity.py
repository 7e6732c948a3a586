"""Descriptor validation and relation derivation, against Backstage's rules."""

from __future__ import annotations

from typing import Any

import pytest

from graph_api.model import DescriptorError, EntityRef, RefError, RelationType, parse_entity


def component(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "service", "lifecycle": "production", "owner": "team-a"}
    base.update(spec)
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc"},
        "spec": base,
    }


def problems(document: Any) -> str:
    with pytest.raises(DescriptorError) as info:
        parse_entity(document)
    return str(info.value)


def test_ref_defaults_follow_the_field() -> None:
    assert str(EntityRef.parse("team-a", default_kind="Group")) == "group:default/team-a"
    assert str(EntityRef.parse("user:Guest", default_kind="Group")) == "user:default/guest"
    assert str(EntityRef.parse("x", default_kind="System", default_namespace="ops")) == "system:ops/x"
    assert str(EntityRef.parse("Team With Spaces", default_kind="Group")) == "group:default/team with spaces"
    with pytest.raises(RefError, match="must name a kind"):
        EntityRef.parse("other-svc")
    with pytest.raises(RefError):
        EntityRef.parse("component:")


def test_component_relations_and_inverse_declarations() -> None:
    doc = component(
        system="audio",
        subcomponentOf="parent-svc",
        providesApis=["play-api"],
        consumesApis=["api:ops/search"],
        dependsOn=["resource:db", "Component:Other/Helper"],
        dependencyOf=["component:frontend"],
    )
    doc["metadata"]["namespace"] = "music"
    entity = parse_entity(doc)
    assert entity.ref == "component:music/svc"
    got = {(r.type, r.source, r.target) for r in entity.relations}
    me = "component:music/svc"
    assert got == {
        (RelationType.OWNED_BY, me, "group:music/team-a"),
        (RelationType.PART_OF, me, "system:music/audio"),
        (RelationType.PART_OF, me, "component:music/parent-svc"),
        (RelationType.PROVIDES_API, me, "api:music/play-api"),
        (RelationType.CONSUMES_API, me, "api:ops/search"),
        (RelationType.DEPENDS_ON, me, "resource:music/db"),
        (RelationType.DEPENDS_ON, me, "component:other/helper"),
        # dependencyOf is the inverse: the frontend depends on this component.
        (RelationType.DEPENDS_ON, "component:music/frontend", me),
    }
    assert all(r.origin == me for r in entity.relations)


def test_group_and_user_relations() -> None:
    group = parse_entity(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "team-a"},
            "spec": {"type": "team", "parent": "org", "children": ["sub"], "members": ["jane"]},
        }
    )
    assert {(r.type, r.source, r.target) for r in group.relations} == {
        (RelationType.CHILD_OF, "group:default/team-a", "group:default/org"),
        (RelationType.CHILD_OF, "group:default/sub", "group:default/team-a"),
        (RelationType.MEMBER_OF, "user:default/jane", "group:default/team-a"),
    }
    user = parse_entity(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": "jane"},
            "spec": {"memberOf": ["team-a"]},
        }
    )
    assert [(r.type, r.target) for r in user.relations] == [
        (RelationType.MEMBER_OF, "group:default/team-a")
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["metadata"].update(name="bad name"), "metadata.name"),
        (lambda d: d["metadata"].update(name="x" * 64), "metadata.name"),
        (lambda d: d["metadata"].update(namespace="Upper"), "metadata.namespace"),
        (lambda d: d["metadata"].update(tags=["Not_Valid"]), "metadata.tags"),
        (lambda d: d["metadata"].update(tags=[1]), "metadata.tags.0"),
        (lambda d: d["metadata"].update(title=5), "metadata.title"),
        (lambda d: d["metadata"].update(description=["x"]), "metadata.description"),
        (lambda d: d["metadata"].update(labels={"a": 1}), "metadata.labels.a"),
        (lambda d: d["metadata"].update(annotations={"a/b": True}), "metadata.annotations"),
        (lambda d: d["metadata"].update(annotations={"Bad Key": "x"}), "metadata.annotations"),
        (lambda d: d.update(relations=[]), "relations: unknown top-level field"),
        (lambda d: d.update(owner="team-a"), "owner: unknown top-level field"),
        (lambda d: d["spec"].pop("owner"), "spec.owner: is required"),
        (lambda d: d["spec"].pop("lifecycle"), "spec.lifecycle: is required"),
        (lambda d: d["spec"].update(type=""), "spec.type"),
        (lambda d: d["spec"].update(dependsOn=["no-kind"]), "spec.dependsOn[0]: "),
        (lambda d: d.update(apiVersion="backstage.io/v9"), "apiVersion"),
        (lambda d: d.pop("metadata"), "metadata: is required"),
    ],
)
def test_invalid_descriptors_name_the_field(mutate: Any, expected: str) -> None:
    doc = component()
    mutate(doc)
    assert expected in problems(doc)


def test_kind_required_and_mapping_required() -> None:
    assert "kind" in problems({"apiVersion": "backstage.io/v1alpha1", "metadata": {"name": "x"}})
    assert "mapping" in problems(["not", "a", "mapping"])


def test_required_spec_fields_per_kind() -> None:
    def doc(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}

    assert "spec.owner" in problems(doc("System", {}))
    assert "spec.owner" in problems(doc("Domain", {}))
    assert "spec.children" in problems(doc("Group", {"type": "team"}))
    assert "spec.memberOf" in problems(doc("User", {}))
    assert "spec.type" in problems(doc("Resource", {"owner": "a"}))
    assert "spec.presence" in problems(doc("Location", {"target": "./x.yaml", "presence": "maybe"}))
    assert parse_entity(doc("API", {"type": "openapi", "lifecycle": "production", "owner": "a"}))


def test_custom_kinds_load_as_generic_entities() -> None:
    entity = parse_entity(
        {
            "apiVersion": "example.com/v1",
            "kind": "AiResource",
            "metadata": {"name": "skill"},
            "spec": {"anything": ["goes"]},
        }
    )
    assert entity.ref == "airesource:default/skill"
    assert entity.kind == "AiResource"
    assert entity.relations == []


def test_kind_is_case_insensitive_and_hash_ignores_key_order() -> None:
    first = component()
    first["kind"] = "component"
    second = {"spec": component()["spec"], "metadata": {"name": "svc"}, "kind": "Component", "apiVersion": "backstage.io/v1alpha1"}
    a, b = parse_entity(first), parse_entity(second)
    assert a.kind == b.kind == "Component"
    assert a.hash == b.hash
    changed = component(lifecycle="deprecated")
    assert parse_entity(changed).hash != a.hash


def test_template_accepted() -> None:
    entity = parse_entity(
        {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": {"name": "springboot"},
            "spec": {"type": "service", "owner": "team-a", "steps": [], "parameters": []},
        }
    )
    assert entity.ref == "template:default/springboot"
    assert [r.target for r in entity.relations] == ["group:default/team-a"]
