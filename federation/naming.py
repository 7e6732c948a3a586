"""Where a peer's entities land on the hub: the unit naming rule.

A peer's entity keeps its kind and name; its namespace becomes ``<unit>`` when it was
``default`` in the peer, and ``<unit>--<namespace>`` otherwise. Units are lower-case DNS labels
without ``--`` (as namespaces are), so the rule is reversible and two units never share a ref,
even when both use the same names: ``component:default/checkout`` of unit ``payments`` is
``component:payments/checkout`` on the hub, that of unit ``retail`` is
``component:retail/checkout``, and ``component:ops/cron`` of ``payments`` is
``component:payments--ops/cron``.
"""

from __future__ import annotations

import re

from graph_api.model.refs import DEFAULT_NAMESPACE

UNIT_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
UNIT_MAX = 30
_SEPARATOR = "--"


def check_unit(unit: str) -> str:
    """``unit`` if it can name a business unit; ValueError saying why otherwise."""
    if not (1 <= len(unit) <= UNIT_MAX and UNIT_RE.match(unit)):
        raise ValueError(
            f"unit {unit!r} must be 1-{UNIT_MAX} lower-case letters and digits, words joined by "
            "single hyphens"
        )
    return unit


def unit_namespace(unit: str, namespace: str) -> str:
    """The hub namespace of a peer namespace."""
    return unit if namespace == DEFAULT_NAMESPACE else f"{unit}{_SEPARATOR}{namespace}"


def hub_ref(unit: str, ref: str) -> str:
    """The hub ref of a peer ref in canonical form (``kind:namespace/name``, lower case).

    Example:
        >>> hub_ref("payments", "component:default/checkout")
        'component:payments/checkout'
    """
    # Canonical refs split at their first ':' and '/': cheaper than parsing, and a merge
    # places every ref it meets.
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    return f"{kind}:{unit_namespace(unit, namespace)}/{name}"


def peer_ref(ref: str) -> tuple[str, str]:
    """``(unit, ref in the peer)`` of a hub ref made by :func:`hub_ref`.

    Example:
        >>> peer_ref("component:payments--ops/cron")
        ('payments', 'component:ops/cron')
    """
    kind, _, rest = ref.partition(":")
    hub_namespace, _, name = rest.partition("/")
    unit, _, namespace = hub_namespace.partition(_SEPARATOR)
    return unit, f"{kind}:{namespace or DEFAULT_NAMESPACE}/{name}"
