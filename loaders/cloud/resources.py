"""Cloud and cluster resources as catalog ``Resource`` entities, through the usual ingest path.

Each resource is tied to the catalog entity its tags or labels name: a component (the
resource is its ``dependencyOf``), a system (``system``) or a team (``owner``). Its owner is
the owner of what it is tied to, as the catalog says at load time; a resource tied to nothing
has no owner and is listed as unowned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph_api.ingest import LoadReport, Rejection, apply_source
from graph_api.model import Entity, RelationType, descriptor_hash, parse_entity
from graph_api.store import GraphStore, PlacedEntity
from loaders.cloud.attribution import CLOUD_ID, Catalog

ANNOTATION_PREFIX = "devgraph.dev/"
_NAME_LIMIT = 63
_INVALID = re.compile(r"[^a-z0-9]+")
# parse_entity insists on an owner, as Backstage does; an unowned cloud resource is still
# worth listing (as unowned), so it is validated with this stand-in, which is then dropped.
_STAND_IN_OWNER = "group:default/devgraph-unowned"


@dataclass(slots=True)
class CloudResource:
    """A resource as Terraform or Kubernetes describes it, before it becomes an entity.

    ``ids`` are every identifier a bill may use for it (an ARN and an instance id, say);
    ``cloud_id`` is the one shown.
    """

    name: str
    type: str
    provider: str
    cloud_id: str
    location: str
    ids: list[str] = field(default_factory=list)
    title: str | None = None
    region: str | None = None
    account: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def entity_name(text: str, cloud_id: str) -> str:
    """A valid, stable ``metadata.name``: a slug, cut to 63 characters with a hash when long."""
    slug = _INVALID.sub("-", text.lower()).strip("-") or "resource"
    if len(slug) <= _NAME_LIMIT:
        return slug
    digest = hashlib.sha256(cloud_id.encode()).hexdigest()[:8]
    return f"{slug[: _NAME_LIMIT - 9].rstrip('-')}-{digest}"


def resource_entity(descriptor: dict[str, Any]) -> Entity:
    """Validate a Resource descriptor; one without ``spec.owner`` stays without an owner."""
    spec = descriptor["spec"]
    if spec.get("owner"):
        return parse_entity(descriptor)
    entity = parse_entity({**descriptor, "spec": {**spec, "owner": _STAND_IN_OWNER}})
    entity.relations = [r for r in entity.relations if r.type is not RelationType.OWNED_BY]
    entity.descriptor = descriptor
    entity.hash = descriptor_hash(descriptor)
    return entity


async def resource_entities(
    resources: Sequence[CloudResource], catalog: Catalog
) -> tuple[list[PlacedEntity], list[Rejection]]:
    """Entities for ``resources``, each tied through its tags and owned as its tie is."""
    ties = await catalog.entity_for([catalog.keys.candidates(r.tags) for r in resources])
    tied_refs = sorted({t for t in ties if t is not None})
    records = dict(zip(tied_refs, await catalog.store.get_entities(tied_refs), strict=True))
    placed: list[PlacedEntity] = []
    rejected: list[Rejection] = []
    names: dict[str, str] = {}
    for resource, tie in zip(resources, ties, strict=True):
        name = entity_name(resource.name, resource.cloud_id)
        if names.get(name, resource.cloud_id) != resource.cloud_id:
            name = entity_name(f"{resource.name}-{_short(resource.cloud_id)}", resource.cloud_id)
        names[name] = resource.cloud_id
        spec: dict[str, Any] = {"type": resource.type}
        if tie is not None:
            kind = tie.split(":", 1)[0]
            record = records.get(tie)
            owner = tie if kind in ("group", "user") else record.owner if record else None
            if owner:
                spec["owner"] = owner
            if kind == "system":
                spec["system"] = tie
            elif kind not in ("group", "user"):
                spec["dependencyOf"] = [tie]
        spec["cloudIds"] = list(dict.fromkeys([resource.cloud_id, *resource.ids]))
        if resource.tags:
            spec["cloudTags"] = dict(sorted(resource.tags.items()))
        annotations = {CLOUD_ID: resource.cloud_id}
        for key in ("provider", "region", "account", "cluster", "namespace"):
            value = getattr(resource, key)
            if value:
                annotations[f"{ANNOTATION_PREFIX}{key}"] = str(value)
        metadata: dict[str, Any] = {"name": name, "annotations": annotations}
        if resource.title:
            metadata["title"] = resource.title
        descriptor = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Resource",
            "metadata": metadata,
            "spec": spec,
        }
        try:
            placed.append(PlacedEntity(resource_entity(descriptor), resource.location))
        except ValueError as exc:
            rejected.append(Rejection(resource.location, str(exc)))
    return placed, rejected


def _short(cloud_id: str) -> str:
    return hashlib.sha256(cloud_id.encode()).hexdigest()[:8]


async def apply_resources(
    store: GraphStore,
    source: str,
    resources: Sequence[CloudResource],
    catalog: Catalog,
    *,
    rejected: Sequence[Rejection] = (),
    failed_files: Sequence[str] = (),
    actor: str = "system",
    action: str = "load resources",
) -> LoadReport:
    """Make ``source`` define exactly ``resources``, through the catalog's ingest path.

    Args:
        failed_files: files that could not be read; what they gave before is kept.
    """
    placed, invalid = await resource_entities(resources, catalog)
    report = await apply_source(
        store,
        source,
        placed,
        [*rejected, *invalid],
        failed_files=failed_files,
        actor=actor,
        action=action,
    )
    report.warnings.extend(catalog.warnings())
    catalog.unknown.clear()
    return report
