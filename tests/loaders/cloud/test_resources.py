"""Terraform state and Kubernetes manifests, as the tools write them, become Resource entities."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from graph_api.model import RelationType
from graph_api.model.cost import CostDimension, CostMetric
from graph_api.store import CostFilter, Direction, EntityFilter, EntityOrder
from graph_api.store.embedded import EmbeddedStore
from loaders.cloud import load_focus, load_kubernetes, load_opencost, load_terraform
from tests.loaders.cloud.conftest import catalog_of, focus_csv, line

BUCKET_ARN = "arn:aws:s3:::acme-search-index"
DB_ARN = "arn:aws:rds:eu-west-1:123456789012:db:orders"

STATE_V4 = {
    "version": 4,
    "terraform_version": "1.9.5",
    "serial": 42,
    "lineage": "3f1c1a2e-9d0b-4c55-8b1e-6f2f0c6a9d11",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "index",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "schema_version": 0,
                    "attributes": {
                        "arn": BUCKET_ARN,
                        "bucket": "acme-search-index",
                        "id": "acme-search-index",
                        "region": "eu-west-1",
                        "tags": {"Service": "search"},
                        "tags_all": {"Service": "search", "managed-by": "terraform"},
                    },
                    "sensitive_attributes": [],
                    "dependencies": [],
                }
            ],
        },
        {
            "mode": "managed",
            "module": "module.orders",
            "type": "aws_db_instance",
            "name": "main",
            "each": "list",
            "provider": 'module.orders.provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "index_key": 0,
                    "schema_version": 2,
                    "attributes": {
                        "arn": DB_ARN,
                        "id": "db-ABCDEFGHIJKL",
                        "identifier": "orders",
                        "tags": {"app.kubernetes.io/part-of": "shop"},
                        "tags_all": {"app.kubernetes.io/part-of": "shop"},
                    },
                    "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]],
                }
            ],
        },
        {
            "mode": "managed",
            "type": "azurerm_storage_account",
            "name": "logs",
            "provider": 'provider["registry.terraform.io/hashicorp/azurerm"]',
            "instances": [
                {
                    "schema_version": 3,
                    "attributes": {
                        "id": "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/acmelogs",
                        "name": "acmelogs",
                        "location": "westeurope",
                        "tags": {},
                    },
                }
            ],
        },
        {
            "mode": "data",
            "type": "aws_caller_identity",
            "name": "current",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"schema_version": 0, "attributes": {"account_id": "123456789012"}}],
        },
        {
            "mode": "managed",
            "type": "random_id",
            "name": "suffix",
            "provider": 'provider["registry.terraform.io/hashicorp/random"]',
            "instances": [{"schema_version": 0, "attributes": {"id": "x1y2", "hex": "c4d5"}}],
        },
    ],
    "check_results": None,
}

SHOW_JSON = {
    "format_version": "1.0",
    "terraform_version": "1.9.5",
    "values": {
        "root_module": {
            "resources": [
                {
                    "address": 'aws_instance.checkout["blue"]',
                    "mode": "managed",
                    "type": "aws_instance",
                    "name": "checkout",
                    "index": "blue",
                    "provider_name": "registry.terraform.io/hashicorp/aws",
                    "schema_version": 1,
                    "values": {
                        "arn": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567890",
                        "id": "i-0abc123def4567890",
                        "tags": {"component": "Checkout", "Name": "checkout-blue"},
                    },
                    "sensitive_values": {},
                }
            ],
            "child_modules": [
                {
                    "address": "module.edge",
                    "resources": [
                        {
                            "address": "module.edge.google_compute_instance.proxy",
                            "mode": "managed",
                            "type": "google_compute_instance",
                            "name": "proxy",
                            "provider_name": "registry.terraform.io/hashicorp/google",
                            "values": {
                                "id": "projects/acme-edge/zones/europe-west1-b/instances/proxy",
                                "name": "proxy",
                                "project": "acme-edge",
                                "zone": "europe-west1-b",
                                "labels": {"team": "edge"},
                            },
                        }
                    ],
                }
            ],
        }
    },
}

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-frontend
  namespace: shop
  labels:
    backstage.io/kubernetes-id: web-frontend
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.4.2
---
apiVersion: v1
kind: Service
metadata:
  name: checkout
  namespace: shop
  labels:
    app.kubernetes.io/name: checkout
spec:
  selector: {app.kubernetes.io/name: checkout}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {LOG_LEVEL: info}
"""

KUBECTL_LIST = {
    "apiVersion": "v1",
    "kind": "List",
    "metadata": {"resourceVersion": ""},
    "items": [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": "search-index",
                "namespace": "search",
                "uid": "0d0c5c3e-7a1b-4d6e-9f00-1a2b3c4d5e6f",
                "labels": {"app.kubernetes.io/name": "search", "app.kubernetes.io/part-of": "shop"},
            },
            "spec": {"serviceName": "search-index", "template": {"metadata": {"labels": {}}}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-frontend-7d9f8c6b5",
                "namespace": "shop",
                "ownerReferences": [{"kind": "Deployment", "name": "web-frontend", "uid": "x"}],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "cleanup", "namespace": "ops"},
            "spec": {
                "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"team": "ops"}}}}}
            },
        },
    ],
}


async def resources(store: EmbeddedStore) -> dict[str, object]:
    records, _ = await store.find_entities(
        EntityFilter(kinds=["resource"]), EntityOrder.REF, False, 0, 100
    )
    return {r.ref: r for r in records}


async def test_terraform_state_and_show_json_become_tied_resources(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    (tmp_path / "terraform.tfstate").write_text(json.dumps(STATE_V4, indent=2), encoding="utf-8")
    (tmp_path / "show.json").write_text(json.dumps(SHOW_JSON), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    reports = await load_terraform(
        cloud_store, [tmp_path / "terraform.tfstate", tmp_path / "show.json"], catalog
    )
    assert [r.ok for r in reports] == [True, True] and len(reports[0].added) == 3
    found = await resources(cloud_store)
    bucket = found["resource:default/s3-bucket-acme-search-index"]
    assert (bucket.type, bucket.owner, bucket.title) == (
        "aws_s3_bucket",
        "group:default/platform",
        "acme-search-index",
    )
    annotations = bucket.descriptor["metadata"]["annotations"]
    assert annotations["devgraph.dev/cloud-id"] == BUCKET_ARN
    assert annotations["devgraph.dev/region"] == "eu-west-1"
    assert bucket.descriptor["spec"]["dependencyOf"] == ["component:default/search"]
    assert bucket.descriptor["spec"]["cloudTags"]["managed-by"] == "terraform"
    db = found["resource:default/db-instance-orders"]
    assert (db.system, db.owner) == ("system:default/shop", "group:default/payments")
    assert db.descriptor["metadata"]["annotations"]["devgraph.dev/account"] == "123456789012"
    storage = found["resource:default/storage-account-acmelogs"]
    assert storage.owner is None
    assert storage.descriptor["metadata"]["annotations"]["devgraph.dev/account"] == (
        "0b1f6471-1bf0-4dda-aec3-111122223333"
    )
    instance = found["resource:default/instance-checkout-blue"]
    assert instance.owner == "group:default/payments"
    assert instance.descriptor["spec"]["cloudIds"] == [
        "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567890",
        "i-0abc123def4567890",
    ]
    proxy = found["resource:default/compute-instance-proxy"]
    assert proxy.descriptor["metadata"]["annotations"]["devgraph.dev/account"] == "acme-edge"
    assert not any(ref.startswith("resource:default/id-") for ref in found)  # random_id left out
    dependents = await cloud_store.related(
        ["component:default/search"], RelationType.DEPENDS_ON, Direction.OUT
    )
    assert dependents["component:default/search"] == [
        "resource:default/s3-bucket-acme-search-index"
    ]
    writes = cloud_store.writes
    again = await load_terraform(
        cloud_store, [tmp_path / "terraform.tfstate"], await catalog_of(cloud_store)
    )
    assert again[0].unchanged == 3 and cloud_store.writes == writes


async def test_cost_follows_a_resource_to_its_component(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    (tmp_path / "state.json").write_text(json.dumps(STATE_V4), encoding="utf-8")
    (tmp_path / "show.json").write_text(json.dumps(SHOW_JSON), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    await load_terraform(cloud_store, [tmp_path / "state.json", tmp_path / "show.json"], catalog)
    rows = [
        line("2024-05-01T00:00:00Z", "4.00", resource=BUCKET_ARN, tags='{"service": "checkout"}'),
        line("2024-05-01T00:00:00Z", "1.00", resource="i-0abc123def4567890"),
        line("2024-05-01T00:00:00Z", "2.00", resource=DB_ARN.upper()),
    ]
    (tmp_path / "focus.csv").write_text(focus_csv(rows), encoding="utf-8")
    (report,) = await load_focus(
        cloud_store, [tmp_path / "focus.csv"], await catalog_of(cloud_store)
    )
    assert report.ok
    may = CostFilter(date(2024, 5, 1), date(2024, 5, 31))
    found = await cloud_store.cost_amounts(
        may, [CostDimension.ENTITY, CostDimension.RESOURCE], CostMetric.BILLED
    )
    assert {(a.key, a.amount) for a in found} == {
        # the resource's tie wins over the line's own tag
        (("component:default/search", "resource:default/s3-bucket-acme-search-index"), Decimal(4)),
        (("component:default/checkout", "resource:default/instance-checkout-blue"), Decimal(1)),
        (("system:default/shop", "resource:default/db-instance-orders"), Decimal(2)),
    }


async def test_kubernetes_manifests_and_kubectl_lists(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    folder = tmp_path / "k8s"
    folder.mkdir()
    (folder / "shop.yaml").write_text(MANIFESTS, encoding="utf-8")
    (folder / "cluster.json").write_text(json.dumps(KUBECTL_LIST, indent=2), encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    (report,) = await load_kubernetes(cloud_store, [folder], catalog, cluster="prod-eu")
    assert report.ok, report.rejected
    found = await resources(cloud_store)
    assert sorted(found) == [
        "resource:default/prod-eu-cronjob-ops-cleanup",
        "resource:default/prod-eu-deployment-shop-web-frontend",
        "resource:default/prod-eu-service-shop-checkout",
        "resource:default/prod-eu-statefulset-search-search-index",
    ]
    web = found["resource:default/prod-eu-deployment-shop-web-frontend"]
    assert web.descriptor["spec"]["dependencyOf"] == ["component:default/web"]
    assert web.owner == "group:default/platform" and web.type == "kubernetes-deployment"
    annotations = web.descriptor["metadata"]["annotations"]
    assert (annotations["devgraph.dev/cluster"], annotations["devgraph.dev/namespace"]) == (
        "prod-eu",
        "shop",
    )
    search = found["resource:default/prod-eu-statefulset-search-search-index"]
    assert search.descriptor["spec"]["dependencyOf"] == ["component:default/search"]
    unowned, total = await cloud_store.find_entities(
        EntityFilter(kinds=["resource"], unowned=True), EntityOrder.REF, False, 0, 10
    )
    assert total == 1 and unowned[0].ref == "resource:default/prod-eu-cronjob-ops-cleanup"


OPENCOST = """{
  "code": 200,
  "data": [
    {
      "shop/web-frontend": {
        "name": "shop/web-frontend",
        "properties": {"cluster": "prod-eu", "namespace": "shop", "controllerKind": "deployment",
                       "controller": "web-frontend", "labels": {"app": "web"}},
        "window": {"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"},
        "cpuCost": 1.123456789012, "gpuCost": 0, "ramCost": 0.5, "pvCost": 0.25,
        "networkCost": 0.05, "loadBalancerCost": 0.0, "sharedCost": 0, "externalCost": 0,
        "totalCost": 1.933456789013
      },
      "search/search-index": {
        "name": "search/search-index",
        "properties": {"cluster": "prod-eu", "namespace": "search",
                       "labels": {"app_kubernetes_io_name": "search"}},
        "window": {"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"},
        "cpuCost": 2, "ramCost": 1, "pvCost": 0, "networkCost": 0, "totalCost": 3
      },
      "__idle__": {
        "name": "__idle__",
        "properties": {"cluster": "prod-eu"},
        "window": {"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"},
        "cpuCost": 4.5, "ramCost": 0.5, "totalCost": 5
      }
    }
  ]
}"""


async def test_opencost_allocations_reconcile_with_total_cost(
    cloud_store: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "allocation.json"
    path.write_text(OPENCOST, encoding="utf-8")
    catalog = await catalog_of(cloud_store)
    report = await load_opencost(cloud_store, str(path), catalog)
    assert report.ok and report.changed
    june = CostFilter(date(2024, 6, 1), date(2024, 6, 30))
    by_entity = {
        a.key[0]: a.amount
        for a in await cloud_store.cost_amounts(june, [CostDimension.ENTITY], CostMetric.EFFECTIVE)
    }
    assert by_entity == {
        "component:default/web": Decimal("1.933456789"),
        "component:default/search": Decimal(3),
        None: Decimal(5),
    }
    assert report.totals["USD"]["effective"] == Decimal("9.933456789013")
    writes = cloud_store.writes
    again = await load_opencost(cloud_store, str(path), await catalog_of(cloud_store))
    assert not again.changed and cloud_store.writes == writes
