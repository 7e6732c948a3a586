"""The demo estate's cloud: a year of FOCUS cost from two providers, Terraform state and
Kubernetes manifests, tied to the components :mod:`devgraph.demo` wrote.

``python -m devgraph.demo_cloud OUT_DIR`` reads ``OUT_DIR``'s component names and writes
``OUT_DIR/cloud/``: ``terraform.tfstate`` (state v4), ``kubernetes/workloads.yaml``,
``focus/aws-2025.csv.gz`` (some lines without tags, as in real accounts) and
``focus/azure-2025.csv``. Same estate, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from random import Random

FOCUS_COLUMNS = (
    "AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingCurrency "
    "BillingPeriodEnd BillingPeriodStart ChargeCategory ChargeClass ChargeDescription "
    "ChargeFrequency ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory "
    "CommitmentDiscountId CommitmentDiscountName CommitmentDiscountStatus "
    "CommitmentDiscountType ConsumedQuantity ConsumedUnit ContractedCost ContractedUnitPrice "
    "EffectiveCost InvoiceIssuerName ListCost ListUnitPrice PricingCategory PricingQuantity "
    "PricingUnit ProviderName PublisherName RegionId RegionName ResourceId ResourceName "
    "ResourceType ServiceCategory ServiceName SkuId SkuPriceId SubAccountId SubAccountName Tags "
    "x_ServiceCode x_UsageType"
).split()
YEAR = 2025
AWS_ACCOUNT = "123456789012"
AZURE_SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-5a3c2f9e8d10"
_AWS = (
    ("aws_instance", "Compute", "Amazon Elastic Compute Cloud", 2.1),
    ("aws_db_instance", "Databases", "Amazon Relational Database Service", 4.8),
    ("aws_s3_bucket", "Storage", "Amazon Simple Storage Service", 0.6),
)
_AZURE = (("Compute", "Virtual Machines", 3.2), ("Storage", "Storage", 0.4))


def component_names(estate: Path) -> list[str]:
    """Component names in the order the demo wrote them (``metadata.name`` of each document)."""
    return [
        line.removeprefix("  name: ").strip('"')
        for file in sorted(estate.rglob("components*.yaml"))
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.startswith("  name: ")
    ]


def _focus_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FOCUS_COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in FOCUS_COLUMNS])
    return out.getvalue()


def _day_rows(
    day: date,
    provider: str,
    account: str,
    resource_id: str,
    category: str,
    service: str,
    cost: float,
    tags: dict[str, str] | None,
    currency: str,
) -> dict[str, str]:
    start = f"{day.isoformat()}T00:00:00Z"
    amount = f"{cost:.6f}"
    return {
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": f"{cost * 1.12:.6f}",
        "ContractedCost": amount,
        "BillingAccountId": account,
        "SubAccountId": account,
        "BillingCurrency": currency,
        "BillingPeriodStart": f"{day.replace(day=1).isoformat()}T00:00:00Z",
        "ChargePeriodStart": start,
        "ChargePeriodEnd": f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z",
        "ChargeCategory": "Usage",
        "ProviderName": provider,
        "PublisherName": provider,
        "InvoiceIssuerName": provider,
        "ResourceId": resource_id,
        "ServiceCategory": category,
        "ServiceName": service,
        "Tags": json.dumps(tags) if tags else "",
    }


def write_cloud(estate: Path, *, seed: int = 5) -> Path:
    """Write ``estate/cloud`` for the components found in ``estate``; return that folder."""
    rng = Random(seed)
    names = component_names(estate)
    if not names:
        raise ValueError(f"no components found in {estate}: run python -m devgraph.demo first")
    out = estate / "cloud"
    (out / "focus").mkdir(parents=True, exist_ok=True)
    (out / "kubernetes").mkdir(parents=True, exist_ok=True)
    aws = [(names[i * 5 % len(names)], *_AWS[i % len(_AWS)]) for i in range(min(45, len(names)))]
    resources = []
    for index, (component, resource_type, _, _, _) in enumerate(aws):
        ident = f"{component}-{index}"
        arn = f"arn:aws:{resource_type.split('_')[1]}:eu-west-1:{AWS_ACCOUNT}:{ident}"
        resources.append(
            {
                "mode": "managed",
                "type": resource_type,
                "name": ident.replace("-", "_"),
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "arn": arn,
                            "id": ident,
                            "identifier": ident,
                            "region": "eu-west-1",
                            # One resource in nine was never tagged: it shows as unowned.
                            "tags": {} if index % 9 == 4 else {"Service": component},
                        },
                    }
                ],
            }
        )
    state = {
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": 7,
        "lineage": "demo",
        "outputs": {},
        "resources": resources,
    }
    (out / "terraform.tfstate").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    workloads = [names[(i * 7 + 3) % len(names)] for i in range(min(20, len(names)))]
    documents = []
    for name in workloads:
        documents.append(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: {name}\n  namespace: demo\n  labels:\n    app.kubernetes.io/name: {name}\n"
            f"spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: {name}}}\n"
            f"  template:\n    metadata:\n      labels: {{app: {name}}}\n"
            f"    spec:\n      containers:\n        - name: app\n          image: acme/{name}:1.0\n"
        )
    (out / "kubernetes" / "workloads.yaml").write_text("---\n".join(documents), encoding="utf-8")
    aws_rows, azure_rows = [], []
    day = date(YEAR, 1, 1)
    growth = {name: rng.uniform(-0.3, 0.6) for name in names}
    while day.year == YEAR:
        progress = (day - date(YEAR, 1, 1)).days / 365
        for index, (component, resource_type, category, service, base) in enumerate(aws):
            ident = f"{component}-{index}"
            arn = f"arn:aws:{resource_type.split('_')[1]}:eu-west-1:{AWS_ACCOUNT}:{ident}"
            cost = base * (1 + growth[component] * progress) * rng.uniform(0.8, 1.2)
            # Billing tags lag behind: a quarter of the lines carry none.
            tags = None if rng.random() < 0.25 else {"service": component}
            aws_rows.append(
                _day_rows(day, "AWS", AWS_ACCOUNT, arn, category, service, cost, tags, "USD")
            )
        aws_rows.append(
            _day_rows(day, "AWS", AWS_ACCOUNT, "", "Other", "AWS Support", 9.5, None, "USD")
        )
        for index, name in enumerate(workloads[:12]):
            category, service, base = _AZURE[index % len(_AZURE)]
            resource = (
                f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/demo/providers/"
                f"Microsoft.Compute/virtualMachines/{name}"
            )
            cost = base * (1 + growth[name] * progress) * rng.uniform(0.9, 1.1)
            azure_rows.append(
                _day_rows(
                    day,
                    "Microsoft",
                    AZURE_SUBSCRIPTION,
                    resource,
                    category,
                    service,
                    cost,
                    {"app": name},
                    "USD",
                )
            )
        day += timedelta(days=1)
    (out / "focus" / f"aws-{YEAR}.csv.gz").write_bytes(
        gzip.compress(_focus_text(aws_rows).encode(), mtime=0)
    )
    (out / "focus" / f"azure-{YEAR}.csv").write_text(_focus_text(azure_rows), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devgraph.demo_cloud", description=__doc__.splitlines()[0]
    )
    parser.add_argument("estate", type=Path, help="the folder python -m devgraph.demo wrote")
    args = parser.parse_args(argv)
    out = write_cloud(args.estate)
    print(f"wrote {out}: terraform.tfstate, kubernetes/, focus/")


if __name__ == "__main__":
    main()
