"""Terraform state as a source of Resource entities: ``devgraph load terraform STATE...``.

Reads the state file as Terraform writes it (JSON, ``version`` 4: ``resources[] {mode, type,
name, provider, module?, instances[] {index_key?, attributes}}``) and the output of
``terraform show -json`` (``values.root_module {resources[], child_modules[]}``). Managed
resources of cloud providers become entities; data sources and utility providers (random,
null, local, ...) do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graph_api.ingest import LoadReport, Rejection
from graph_api.store import GraphStore
from loaders.cloud.attribution import Catalog
from loaders.cloud.resources import CloudResource, apply_resources

# Providers whose "resources" live only in Terraform itself, not in any cloud.
UTILITY_PROVIDERS = frozenset(
    {
        "random",
        "null",
        "local",
        "tls",
        "time",
        "template",
        "archive",
        "external",
        "http",
        "terraform",
    }
)
_PROVIDER = re.compile(r'provider\["(?:[^"]*/)?([^"/]+)"\]')
_NAME_ATTRIBUTES = (
    "name",
    "bucket",
    "identifier",
    "function_name",
    "cluster_identifier",
    "cluster_name",
    "queue_name",
    "table_name",
)


class StateError(ValueError):
    """A file that is not Terraform state (v4) nor ``terraform show -json`` output."""


def provider_name(text: str) -> str:
    """``provider["registry.terraform.io/hashicorp/aws"].west`` or the bare source -> ``aws``."""
    match = _PROVIDER.search(text)
    return match.group(1) if match else text.rsplit("/", 1)[-1]


def _instances(data: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """``(address, type, provider, attributes)`` of every managed resource instance."""
    if data.get("version") == 4 and isinstance(data.get("resources"), list):
        for block in data["resources"]:
            if block.get("mode") != "managed":
                continue
            module = block.get("module")
            address = f"{module + '.' if module else ''}{block['type']}.{block['name']}"
            for instance in block.get("instances") or []:
                key = instance.get("index_key")
                suffix = f"[{json.dumps(key)}]" if key is not None else ""
                yield (
                    address + suffix,
                    block["type"],
                    provider_name(block.get("provider", "")),
                    instance.get("attributes") or {},
                )
        return
    values = data.get("values")
    if "format_version" in data and isinstance(values, dict):
        modules = [values.get("root_module") or {}]
        while modules:
            module = modules.pop(0)
            for resource in module.get("resources") or []:
                if resource.get("mode") == "managed":
                    yield (
                        resource["address"],
                        resource["type"],
                        provider_name(resource.get("provider_name", "")),
                        resource.get("values") or {},
                    )
            modules.extend(module.get("child_modules") or [])
        return
    version = data.get("version")
    raise StateError(
        f"not Terraform state version 4 nor `terraform show -json` output (version: {version!r})"
    )


def _arn_parts(arn: str | None) -> tuple[str | None, str | None]:
    """Region and account of an ARN (``arn:partition:service:region:account:resource``)."""
    if not arn or not arn.startswith("arn:"):
        return None, None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, None
    return parts[3] or None, parts[4] or None


def _subscription(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return None


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def cloud_resource(
    address: str, resource_type: str, provider: str, attributes: dict[str, Any], location: str
) -> CloudResource | None:
    """A resource from one instance's attributes; None for those with no cloud id."""
    arn = attributes.get("arn") if isinstance(attributes.get("arn"), str) else None
    raw_id = attributes.get("id")
    plain_id = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else None
    self_link = (
        attributes.get("self_link") if isinstance(attributes.get("self_link"), str) else None
    )
    cloud_id = arn or plain_id or self_link
    if cloud_id is None:
        return None
    region, account = _arn_parts(arn)
    region = attributes.get("region") or attributes.get("location") or region
    if not region and isinstance(attributes.get("zone"), str):
        region = attributes["zone"]
    if provider == "azurerm" and plain_id:
        account = _subscription(plain_id)
    account = account or attributes.get("project") or attributes.get("account_id")
    tags = _strings(attributes.get("tags_all")) or _strings(attributes.get("tags"))
    tags = tags or _strings(attributes.get("labels"))
    display = next(
        (str(attributes[a]) for a in _NAME_ATTRIBUTES if isinstance(attributes.get(a), str)),
        tags.get("Name") or address.rsplit(".", 1)[-1],
    )
    short_type = resource_type.split("_", 1)[-1] if "_" in resource_type else resource_type
    return CloudResource(
        name=f"{short_type}-{display}",
        type=resource_type,
        provider=provider,
        cloud_id=cloud_id,
        ids=[i for i in (arn, plain_id, self_link) if i],
        location=f"{location}#{address}",
        title=display,
        region=str(region) if region else None,
        account=str(account) if account else None,
        tags=tags,
    )


def read_state(path: Path) -> list[CloudResource]:
    """Every cloud resource in one state file.

    Raises:
        StateError: the file cannot be read or is not state this loader knows.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise StateError("a Terraform state file holds a JSON object")
    found = []
    for address, resource_type, provider, attributes in _instances(data):
        if provider in UTILITY_PROVIDERS:
            continue
        resource = cloud_resource(address, resource_type, provider, attributes, str(path))
        if resource is not None:
            found.append(resource)
    return found


async def load_terraform(
    store: GraphStore, paths: list[Path], catalog: Catalog, *, actor: str = "system"
) -> list[LoadReport]:
    """Apply each state file as its own source (``terraform:<absolute path>``).

    A file that cannot be read changes nothing its source loaded before.
    """
    reports = []
    for path in paths:
        source = f"terraform:{path.resolve()}"
        try:
            resources = read_state(path)
        except StateError as exc:
            report = LoadReport(source=source, rejected=[Rejection(str(path), str(exc))])
            reports.append(report)
            continue
        reports.append(
            await apply_resources(
                store, source, resources, catalog, actor=actor, action="load terraform"
            )
        )
    return reports
