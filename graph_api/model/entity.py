"""The catalog's entity model: Backstage descriptors validated and turned into graph records.

A descriptor is read exactly as Backstage reads it (envelope, metadata and per-kind spec rules);
the result is an :class:`Entity` carrying its canonical ref and the relations it declares.
Descriptors never carry relations themselves: they are derived here, each with the entity that
declared it as its origin, so a re-load of that entity can replace exactly what it said.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from graph_api.model.refs import DEFAULT_NAMESPACE, EntityRef, RefError, canonical_ref

NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*$")
# Kubernetes-style keys, as Backstage validates label and annotation keys.
KEY_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
API_VERSION_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]+$")

# Far deeper than any real descriptor (a template's JSON Schema parameters nest a dozen levels),
# and shallow enough that whatever reads an accepted one never hits a limit of its own: PyYAML's
# recursive constructor (the interpreter's recursion limit) and orjson (255 levels).
MAX_DEPTH = 100

BACKSTAGE_API_VERSIONS = frozenset({"backstage.io/v1alpha1", "backstage.io/v1beta1"})
TEMPLATE_API_VERSIONS = frozenset(
    {"backstage.io/v1beta2", "scaffolder.backstage.io/v1beta3", "backstage.io/v1beta1"}
)


class RelationType(str, Enum):
    """Stored relation types; each is stored once, in its forward direction.

    The inverse of each pair (ownerOf, apiProvidedBy, apiConsumedBy, dependencyOf, parentOf,
    hasMember, hasPart) is the same edge read backwards.
    """

    OWNED_BY = "OWNED_BY"
    PROVIDES_API = "PROVIDES_API"
    CONSUMES_API = "CONSUMES_API"
    DEPENDS_ON = "DEPENDS_ON"
    CHILD_OF = "CHILD_OF"
    MEMBER_OF = "MEMBER_OF"
    PART_OF = "PART_OF"


RELATION_NAMES: dict[RelationType, tuple[str, str]] = {
    RelationType.OWNED_BY: ("ownedBy", "ownerOf"),
    RelationType.PROVIDES_API: ("providesApi", "apiProvidedBy"),
    RelationType.CONSUMES_API: ("consumesApi", "apiConsumedBy"),
    RelationType.DEPENDS_ON: ("dependsOn", "dependencyOf"),
    RelationType.CHILD_OF: ("childOf", "parentOf"),
    RelationType.MEMBER_OF: ("memberOf", "hasMember"),
    RelationType.PART_OF: ("partOf", "hasPart"),
}


class DescriptorError(ValueError):
    """A descriptor that Backstage would reject; ``problems`` name each field and reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_Node = TypeVar("_Node")
_COLLECTIONS = (dict, list, tuple)  # isinstance is far slower given a union


def _collections_inside(level: Iterable[Any]) -> Iterator[Any]:
    for value in level:
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, _COLLECTIONS):
            continue
        for item in value:
            if isinstance(item, _COLLECTIONS):
                yield item


def too_deep(
    root: _Node, inside: Callable[[Iterable[_Node]], Iterable[_Node]] = _collections_inside
) -> _Node | None:
    """A collection nested more than :data:`MAX_DEPTH` levels deep in ``root``, or None.

    Args:
        root: JSON-like data, itself level 1; or any other tree of collections.
        inside: the collections directly inside those of one level; by default the values of
            dicts and the items of lists and tuples (JSON keys are strings).

    The walk goes level by level, each part of ``root`` once per level it is on, so data that
    shares parts (YAML aliases) or holds itself costs at most ``MAX_DEPTH`` walks of each part,
    not one per path to it; and nothing recurses, so no depth exhausts the stack. The
    collection returned is the first of its level.

    Example:
        >>> too_deep({"spec": {"x": [[1]]}}) is None
        True
    """
    level: Iterable[_Node] = [root]
    for _ in range(MAX_DEPTH):
        below = {id(child): child for child in inside(level)}
        if not below:
            return None
        level = below.values()
    return next(iter(level))


def _check_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not KEY_PREFIX_RE.match(prefix)):
        raise ValueError(f"key {key!r} has an invalid prefix")
    if not name or len(name) > 63 or not NAME_RE.match(name):
        raise ValueError(f"key {key!r} has an invalid name part")
    return key


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: StrictStr
    title: StrictStr | None = None
    icon: StrictStr | None = None
    type: StrictStr | None = None


class Metadata(BaseModel):
    """``metadata`` with Backstage's rules; unknown metadata fields are kept, as Backstage does."""

    model_config = ConfigDict(extra="allow")
    name: StrictStr
    namespace: StrictStr = DEFAULT_NAMESPACE
    title: StrictStr | None = None
    description: StrictStr | None = None
    labels: dict[str, StrictStr] = Field(default_factory=dict)
    annotations: dict[str, StrictStr] = Field(default_factory=dict)
    tags: list[StrictStr] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 1 <= len(value) <= 63 or not NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid name: 1-63 characters of [A-Za-z0-9] "
                "separated by -, _ or ."
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not 1 <= len(value) <= 63 or not NAMESPACE_RE.match(value):
            raise ValueError(f"{value!r} is not a valid namespace: lower-case DNS label")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if len(tag) > 63 or not TAG_RE.match(tag):
                raise ValueError(
                    f"tag {tag!r} is invalid: [a-z0-9:+#] words joined by '-', at most 63"
                )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            _check_key(key)
            if label and (len(label) > 63 or not NAME_RE.match(label)):
                raise ValueError(f"label {key}={label!r} has an invalid value")
        return value

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            _check_key(key)
        return value


RefList = list[StrictStr]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="allow")


class ComponentSpec(_Spec):
    type: NonEmpty
    lifecycle: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    subcomponentOf: NonEmpty | None = None
    providesApis: RefList = Field(default_factory=list)
    consumesApis: RefList = Field(default_factory=list)
    dependsOn: RefList = Field(default_factory=list)
    dependencyOf: RefList = Field(default_factory=list)


class ApiSpec(_Spec):
    type: NonEmpty
    lifecycle: NonEmpty
    owner: NonEmpty
    # Optional in Backstage's own examples (an MCP server API has none); a placeholder that could
    # not be fetched stays a mapping so the entity still loads.
    definition: StrictStr | dict[str, StrictStr] | None = None
    system: NonEmpty | None = None


class ResourceSpec(_Spec):
    type: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    dependsOn: RefList = Field(default_factory=list)
    dependencyOf: RefList = Field(default_factory=list)


class SystemSpec(_Spec):
    owner: NonEmpty
    domain: NonEmpty | None = None
    type: NonEmpty | None = None


class DomainSpec(_Spec):
    owner: NonEmpty
    subdomainOf: NonEmpty | None = None
    type: NonEmpty | None = None


class GroupSpec(_Spec):
    type: NonEmpty
    children: RefList
    parent: NonEmpty | None = None
    members: RefList = Field(default_factory=list)
    profile: dict[str, Any] | None = None


class UserSpec(_Spec):
    memberOf: RefList
    profile: dict[str, Any] | None = None


class LocationSpec(_Spec):
    type: NonEmpty | None = None
    target: NonEmpty | None = None
    targets: RefList = Field(default_factory=list)
    presence: Literal["required", "optional"] | None = None


class TemplateSpec(_Spec):
    type: NonEmpty
    owner: NonEmpty | None = None


SPEC_MODELS: dict[str, type[_Spec]] = {
    "component": ComponentSpec,
    "api": ApiSpec,
    "resource": ResourceSpec,
    "system": SystemSpec,
    "domain": DomainSpec,
    "group": GroupSpec,
    "user": UserSpec,
    "location": LocationSpec,
    "template": TemplateSpec,
}
KIND_NAMES = {
    "component": "Component",
    "api": "API",
    "resource": "Resource",
    "system": "System",
    "domain": "Domain",
    "group": "Group",
    "user": "User",
    "location": "Location",
    "template": "Template",
}

# (spec field, default kind of its refs or None when the ref must name one, relation, whether
# the declaring entity is the edge's source). Order is Backstage's BuiltinKindsEntityProcessor's.
_RELATION_FIELDS: dict[str, tuple[tuple[str, str | None, RelationType, bool], ...]] = {
    "component": (
        ("owner", "Group", RelationType.OWNED_BY, True),
        ("system", "System", RelationType.PART_OF, True),
        ("subcomponentOf", "Component", RelationType.PART_OF, True),
        ("providesApis", "API", RelationType.PROVIDES_API, True),
        ("consumesApis", "API", RelationType.CONSUMES_API, True),
        ("dependsOn", None, RelationType.DEPENDS_ON, True),
        ("dependencyOf", None, RelationType.DEPENDS_ON, False),
    ),
    "api": (
        ("owner", "Group", RelationType.OWNED_BY, True),
        ("system", "System", RelationType.PART_OF, True),
    ),
    "resource": (
        ("owner", "Group", RelationType.OWNED_BY, True),
        ("system", "System", RelationType.PART_OF, True),
        ("dependsOn", None, RelationType.DEPENDS_ON, True),
        ("dependencyOf", None, RelationType.DEPENDS_ON, False),
    ),
    "system": (
        ("owner", "Group", RelationType.OWNED_BY, True),
        ("domain", "Domain", RelationType.PART_OF, True),
    ),
    "domain": (
        ("owner", "Group", RelationType.OWNED_BY, True),
        ("subdomainOf", "Domain", RelationType.PART_OF, True),
    ),
    "group": (
        ("parent", "Group", RelationType.CHILD_OF, True),
        ("children", "Group", RelationType.CHILD_OF, False),
        ("members", "User", RelationType.MEMBER_OF, False),
    ),
    "user": (("memberOf", "Group", RelationType.MEMBER_OF, True),),
    "template": (("owner", "Group", RelationType.OWNED_BY, True),),
}

_ENVELOPE_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})


@dataclass(frozen=True, slots=True)
class Relation:
    """A stored edge ``source -[type]-> target``, declared by ``origin`` (one of the two ends)."""

    type: RelationType
    source: str
    target: str
    origin: str


@dataclass(slots=True)
class Entity:
    """A validated catalog entity, ready for a store.

    ``descriptor`` is the entity as the user wrote it (after ``$text`` substitution); the flat
    fields are what stores index and filter on.
    """

    ref: str
    kind: str
    namespace: str
    name: str
    descriptor: dict[str, Any]
    relations: list[Relation] = field(default_factory=list)
    hash: str = ""

    @property
    def metadata(self) -> dict[str, Any]:
        return self.descriptor["metadata"]

    @property
    def spec(self) -> dict[str, Any]:
        return self.descriptor.get("spec") or {}

    def target(self, relation: RelationType, kind_prefix: str = "") -> str | None:
        """The first ref this entity points at with ``relation`` (e.g. its owner)."""
        for rel in self.relations:
            if (
                rel.type is relation
                and rel.source == self.ref
                and rel.target.startswith(kind_prefix)
            ):
                return rel.target
        return None


def _format_error(error: Any, prefix: str) -> str:
    loc = ".".join(str(part) for part in error["loc"] if part not in ("function-after",))
    where = f"{prefix}.{loc}" if loc else prefix
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not allowed"
    return f"{where}: {message}"


# YAML may key a mapping by a number or a boolean (`ports: {8080: http}`); JSON cannot.
# Such keys are written as strings, as Backstage's catalog (JavaScript objects) reads them.
JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def content_hash(value: Any) -> str:
    """Stable hash of JSON-like data (dataclasses included); mapping key order does not count."""
    digest = hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | JSON_OPTIONS))
    return digest.hexdigest()[:32]


def descriptor_hash(descriptor: dict[str, Any]) -> str:
    """Stable content hash; key order and formatting in the source file do not change it."""
    return content_hash(descriptor)


def spec_relations(
    kind: str, ref: str, namespace: str, spec: dict[str, Any], problems: list[str]
) -> list[Relation]:
    """The relations the relation fields of ``spec`` declare, as Backstage derives them.

    Args:
        kind: the entity's kind, any case.
        ref: the declaring entity's canonical ref.
        namespace: its namespace, the default for refs that name none.
        spec: the spec, or any subset of its fields.
        problems: where a ref that cannot be read is reported (``spec.field[i]: why``).
    """
    relations: list[Relation] = []
    for field_name, default_kind, rel_type, outgoing in _RELATION_FIELDS.get(kind.lower(), ()):
        value = spec.get(field_name)
        if value is None:
            continue
        targets = value if isinstance(value, list) else [value]
        for index, target_text in enumerate(targets):
            try:
                other = str(
                    EntityRef.parse(
                        target_text, default_kind=default_kind, default_namespace=namespace
                    )
                )
            except RefError as exc:
                where = f"spec.{field_name}" + (f"[{index}]" if isinstance(value, list) else "")
                problems.append(f"{where}: {exc}")
                continue
            source, target = (ref, other) if outgoing else (other, ref)
            relations.append(Relation(rel_type, source, target, ref))
    return relations


def parse_entity(document: Any) -> Entity:
    """Validate one descriptor as Backstage would and derive its relations.

    Args:
        document: the parsed YAML/JSON object (``apiVersion``, ``kind``, ``metadata``, ``spec``).

    Raises:
        DescriptorError: naming every offending field and why.

    Example:
        >>> parse_entity({"apiVersion": "backstage.io/v1alpha1", "kind": "System",
        ...               "metadata": {"name": "audio"}, "spec": {"owner": "team-a"}}).ref
        'system:default/audio'
    """
    if not isinstance(document, dict):
        raise DescriptorError([f"document must be a mapping, got {type(document).__name__}"])
    if too_deep(document) is not None:
        raise DescriptorError([f"document: nested deeper than {MAX_DEPTH} levels"])
    problems: list[str] = []
    for key in document:
        if key not in _ENVELOPE_FIELDS:
            problems.append(
                f"{key}: unknown top-level field (only apiVersion, kind, metadata, spec)"
            )
    api_version = document.get("apiVersion")
    kind = document.get("kind")
    if not isinstance(api_version, str) or not API_VERSION_RE.match(api_version):
        problems.append("apiVersion: is required, in the form group/version")
    if not isinstance(kind, str) or not kind:
        problems.append("kind: is required and must be a string")
        raise DescriptorError(problems)
    kind_key = kind.lower()
    if isinstance(api_version, str) and kind_key in SPEC_MODELS:
        allowed = TEMPLATE_API_VERSIONS if kind_key == "template" else BACKSTAGE_API_VERSIONS
        if api_version not in allowed:
            problems.append(f"apiVersion: {api_version!r} is not valid for kind {kind}")
    raw_metadata = document.get("metadata")
    metadata: Metadata | None = None
    if not isinstance(raw_metadata, dict):
        problems.append("metadata: is required and must be a mapping")
    else:
        try:
            metadata = Metadata.model_validate(raw_metadata)
        except ValidationError as exc:
            problems.extend(_format_error(e, "metadata") for e in exc.errors())
    raw_spec = document.get("spec")
    spec_model = SPEC_MODELS.get(kind_key)
    if raw_spec is not None and not isinstance(raw_spec, dict):
        problems.append("spec: must be a mapping")
    elif spec_model is not None:
        try:
            spec_model.model_validate(raw_spec or {})
        except ValidationError as exc:
            problems.extend(_format_error(e, "spec") for e in exc.errors())
    if problems or metadata is None:
        raise DescriptorError(problems)

    namespace = metadata.namespace
    display_kind = KIND_NAMES.get(kind_key, kind)
    ref = canonical_ref(display_kind, namespace, metadata.name)
    relations = spec_relations(kind_key, ref, namespace, raw_spec or {}, problems)
    if problems:
        raise DescriptorError(problems)
    descriptor = dict(document)
    descriptor["kind"] = display_kind if kind_key in KIND_NAMES else kind
    return Entity(
        ref=ref,
        kind=descriptor["kind"],
        namespace=namespace,
        name=metadata.name,
        descriptor=descriptor,
        relations=relations,
        hash=descriptor_hash(descriptor),
    )
