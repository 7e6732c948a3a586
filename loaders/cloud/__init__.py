"""Cloud as a source: resources (Terraform, Kubernetes) and cost (FOCUS, OpenCost)."""

from loaders.cloud.attribution import Catalog, TagKeys
from loaders.cloud.costs import CostFileError, CostLoadReport
from loaders.cloud.focus import load_focus
from loaders.cloud.kubernetes import load_kubernetes
from loaders.cloud.opencost import load_opencost
from loaders.cloud.terraform import load_terraform

__all__ = [
    "Catalog",
    "CostFileError",
    "CostLoadReport",
    "TagKeys",
    "load_focus",
    "load_kubernetes",
    "load_opencost",
    "load_terraform",
]
