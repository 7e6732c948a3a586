"""OpenCost allocations as a cost source: ``devgraph load opencost FILE|URL``.

Reads the allocation API's JSON (``/allocation`` or ``/allocation/compute``): ``{code, data:
[{name: {properties {cluster, namespace, controllerKind, controller, pod, labels}, window
{start, end}, cpuCost, gpuCost, ramCost, pvCost, networkCost, loadBalancerCost, sharedCost,
externalCost, totalCost}}]}``, one map per step. Numbers are read as exact decimals from the
JSON text. Each allocation's cost is booked on the day its window starts (ask the API for
``step=1d``); its parts become service categories, and whatever ``totalCost`` holds beyond
them (adjustments) is booked as ``Other``, so the source sums to its ``totalCost``.
Idle and unallocated pseudo-allocations (``__idle__``, ``__unallocated__``) stay unallocated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import orjson
import pyarrow as pa

from graph_api.settings import SharedCostRule
from graph_api.store import GraphStore
from loaders.cloud.attribution import Catalog
from loaders.cloud.costs import (
    LINE_SCHEMA,
    METRICS,
    CostAggregator,
    CostFileError,
    CostLoadReport,
    apply_cost,
)
from loaders.cloud.kubernetes import kubernetes_id

PROVIDER = "Kubernetes"
CATEGORIES = {
    "cpuCost": "Compute",
    "gpuCost": "Compute",
    "ramCost": "Compute",
    "pvCost": "Storage",
    "networkCost": "Networking",
    "loadBalancerCost": "Networking",
    "sharedCost": "Other",
    "externalCost": "Other",
}
PSEUDO_ALLOCATIONS = frozenset({"__idle__", "__unallocated__", "__unmounted__"})


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return Decimal(0)


def _day(text: Any, where: str) -> date:
    if not isinstance(text, str):
        raise CostFileError([f"{where}: window.start is missing"])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CostFileError([f"{where}: window.start {text!r} is not a date/time"]) from exc
    return moment.date()


def allocation_lines(data: Any, source: str, currency: str) -> Iterator[dict[str, Any]]:
    """One line per allocation and service category.

    Raises:
        CostFileError: the response is not a successful allocation response.
    """
    if not isinstance(data, dict) or data.get("code", 200) != 200 or "data" not in data:
        message = data.get("message") if isinstance(data, dict) else None
        raise CostFileError(
            [f"{source}: not an OpenCost allocation response ({message or 'no data'})"]
        )
    steps = data["data"] if isinstance(data["data"], list) else [data["data"]]
    for step_index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise CostFileError([f"{source}: data[{step_index}] is not an object"])
        for name, allocation in step.items():
            if not isinstance(allocation, dict):
                continue
            where = f"{source}: data[{step_index}].{name}"
            properties = allocation.get("properties") or {}
            day = _day((allocation.get("window") or {}).get("start"), where)
            cluster = properties.get("cluster") or "default"
            namespace = properties.get("namespace")
            controller, kind = properties.get("controller"), properties.get("controllerKind")
            pseudo = name in PSEUDO_ALLOCATIONS or name.split("/")[-1] in PSEUDO_ALLOCATIONS
            resource = (
                kubernetes_id(cluster, namespace, kind, controller)
                if controller and kind and not pseudo
                else None
            )
            labels = {} if pseudo else properties.get("labels") or {}
            tags = orjson.dumps(labels).decode() if labels else None
            parts: dict[str, Decimal] = {}
            for field_name, category in CATEGORIES.items():
                parts[category] = parts.get(category, Decimal(0)) + _decimal(
                    allocation.get(field_name)
                )
            if "totalCost" in allocation:
                parts["Other"] += _decimal(allocation["totalCost"]) - sum(parts.values())
            for category, amount in parts.items():
                if amount == 0:
                    continue
                yield {
                    "day": day,
                    "currency": currency,
                    "category": category,
                    "provider": PROVIDER,
                    "billing_account": cluster,
                    "sub_account": None,
                    "service": namespace or name,
                    "resource_id": resource,
                    "tags": tags,
                    **dict.fromkeys(METRICS, amount),
                }


def source_key(target: str, lines: list[dict[str, Any]]) -> str:
    """A file is its path; a URL is the URL (without ``window``) and the window it covered."""
    if "://" not in target:
        return f"opencost:{Path(target).resolve()}"
    parts = urlsplit(target)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "window"])
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    days = sorted({line["day"] for line in lines})
    window = f"{days[0]}/{days[-1]}" if days else "empty"
    return f"opencost:{base}#{window}"


def fetch(target: str, timeout: float = 30.0) -> Any:
    """The parsed JSON of a file or URL, numbers as exact decimals.

    Raises:
        CostFileError: it cannot be read or is not JSON.
    """
    try:
        if "://" in target:
            response = httpx.get(target, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
            text = response.text
        else:
            text = Path(target).read_text(encoding="utf-8")
        return json.loads(text, parse_float=Decimal)
    except (OSError, UnicodeDecodeError, httpx.HTTPError, json.JSONDecodeError) as exc:
        raise CostFileError([f"{target}: cannot read: {exc}"]) from exc


async def load_opencost(
    store: GraphStore,
    target: str,
    catalog: Catalog,
    rules: list[SharedCostRule] | None = None,
    *,
    currency: str = "USD",
    actor: str = "system",
) -> CostLoadReport:
    """Load one OpenCost allocation response (a file or a URL) as one source."""
    try:
        lines = list(allocation_lines(fetch(target), target, currency.upper()))
    except CostFileError as exc:
        return CostLoadReport(source=f"opencost:{target}", errors=exc.problems)
    aggregator = CostAggregator(catalog)
    if lines:
        await aggregator.add(pa.Table.from_pylist(lines, schema=LINE_SCHEMA))
    report = await apply_cost(
        store,
        source_key(target, lines),
        aggregator,
        rules or [],
        actor=actor,
        action="load opencost",
    )
    catalog.unknown.clear()
    return report
