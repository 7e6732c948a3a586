"""Kubernetes objects as a source of Resource entities: ``devgraph load kubernetes PATH...``.

Reads manifests as ``kubectl apply`` takes them (multi-document YAML, JSON, ``List`` objects)
and the output of ``kubectl get -o json``/``-o yaml``. Objects a controller made (they carry
``ownerReferences``) are left out, as are configuration and access-control kinds, which
cost nothing of their own. Labels on a workload's pod template count as its labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graph_api.ingest import LoadReport, Rejection
from graph_api.store import GraphStore
from loaders.cloud.attribution import Catalog
from loaders.cloud.resources import CloudResource, apply_resources
from loaders.yaml12 import YamlSyntaxError, iter_documents

SUFFIXES = (".yaml", ".yml", ".json")
SKIPPED_KINDS = frozenset(
    {
        "Secret",
        "ConfigMap",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Event",
        "Endpoints",
        "EndpointSlice",
        "ControllerRevision",
        "Lease",
        "LimitRange",
        "ResourceQuota",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
        "PriorityClass",
    }
)
CLUSTER_SCOPED = frozenset(
    {"Namespace", "Node", "PersistentVolume", "StorageClass", "IngressClass", "ClusterIssuer"}
)


def kubernetes_id(cluster: str | None, namespace: str | None, kind: str, name: str) -> str:
    """The cloud id devgraph gives an object; OpenCost allocations are matched on it."""
    return f"kubernetes://{cluster or 'default'}/{namespace or '-'}/{kind}/{name}".lower()


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(data, dict):
        return
    if str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        for item in data["items"]:
            yield from _objects(item)
        return
    yield data


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = dict((obj.get("metadata") or {}).get("labels") or {})
    spec = obj.get("spec") or {}
    template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get(
        "template"
    )
    if isinstance(template, dict):
        for key, value in ((template.get("metadata") or {}).get("labels") or {}).items():
            labels.setdefault(key, value)
    return {str(k): str(v) for k, v in labels.items() if v is not None}


def cloud_resource(obj: dict[str, Any], cluster: str | None, location: str) -> CloudResource:
    """A resource for one object; its kind, name and namespace make its id."""
    metadata = obj.get("metadata") or {}
    kind, name = obj["kind"], metadata["name"]
    namespace = None if kind in CLUSTER_SCOPED else metadata.get("namespace") or "default"
    parts = [cluster, kind, namespace, name]
    return CloudResource(
        name="-".join(p for p in parts if p),
        type=f"kubernetes-{kind.lower()}",
        provider="kubernetes",
        cloud_id=kubernetes_id(cluster, namespace, kind, name),
        location=location,
        title=f"{kind} {namespace + '/' if namespace else ''}{name}",
        cluster=cluster,
        namespace=namespace,
        tags=_labels(obj),
    )


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return [path]


def read_manifests(
    path: Path, cluster: str | None
) -> tuple[list[CloudResource], list[Rejection], list[str]]:
    """Resources of every object under ``path``; rejections; files that could not be read."""
    resources: list[CloudResource] = []
    rejected: list[Rejection] = []
    failed: list[str] = []
    if not path.exists():
        return [], [Rejection(str(path), "no such file or folder")], [str(path)]
    for file in _files(path):
        try:
            documents = list(iter_documents(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, YamlSyntaxError) as exc:
            failed.append(str(file))
            rejected.append(Rejection(str(file), f"cannot read manifests: {exc}"))
            continue
        for document in documents:
            location = f"{file}:{document.line}"
            for obj in _objects(document.data):
                metadata = obj.get("metadata")
                if (
                    not isinstance(obj.get("kind"), str)
                    or not isinstance(metadata, dict)
                    or not (isinstance(metadata.get("name"), str))
                ):
                    rejected.append(
                        Rejection(location, "a Kubernetes object needs kind and metadata.name")
                    )
                    continue
                if obj["kind"] in SKIPPED_KINDS or metadata.get("ownerReferences"):
                    continue
                resources.append(cloud_resource(obj, cluster, location))
    return resources, rejected, failed


async def load_kubernetes(
    store: GraphStore,
    paths: list[Path],
    catalog: Catalog,
    *,
    cluster: str | None = None,
    actor: str = "system",
) -> list[LoadReport]:
    """Apply each PATH (a file or a folder of manifests) as its own source."""
    reports = []
    for path in paths:
        source = f"kubernetes:{path.resolve()}"
        resources, rejected, failed = read_manifests(path, cluster)
        if failed and not resources:
            # Nothing could be read: keep what this source loaded before.
            reports.append(LoadReport(source=source, rejected=rejected))
            continue
        reports.append(
            await apply_resources(
                store,
                source,
                resources,
                catalog,
                rejected=rejected,
                failed_files=failed,
                actor=actor,
                action="load kubernetes",
            )
        )
    return reports
