"""Entity references: ``[kind:][namespace/]name``, parsed and compared the way Backstage does."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


class RefError(ValueError):
    """A string that cannot be read as an entity reference."""


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A parsed reference; ``str()`` gives the canonical, lower-cased ``kind:namespace/name``."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        default_kind: str | None = None,
        default_namespace: str = DEFAULT_NAMESPACE,
    ) -> EntityRef:
        """Read ``text`` with Backstage's per-field defaults.

        Args:
            text: ``[kind:][namespace/]name``; the name is not held to the name rules
                (``Team With Spaces`` is a valid owner), as in Backstage.
            default_kind: kind used when the text names none; ``None`` makes a kind mandatory.
            default_namespace: usually the referencing entity's own namespace.

        Example:
            >>> str(EntityRef.parse("team-a", default_kind="Group"))
            'group:default/team-a'
        """
        if not isinstance(text, str):
            raise RefError(f"entity reference must be a string, got {type(text).__name__}")
        raw = text.strip()
        kind: str | None = default_kind
        namespace = default_namespace
        rest = raw
        colon = rest.find(":")
        slash = rest.find("/")
        if colon != -1 and (slash == -1 or colon < slash):
            kind, rest = rest[:colon], rest[colon + 1 :]
            if not kind:
                raise RefError(f"entity reference {text!r} has an empty kind")
        slash = rest.find("/")
        if slash != -1:
            namespace, rest = rest[:slash], rest[slash + 1 :]
            if not namespace:
                raise RefError(f"entity reference {text!r} has an empty namespace")
        if not rest:
            raise RefError(f"entity reference {text!r} has an empty name")
        if not kind:
            raise RefError(f"entity reference {text!r} must name a kind, e.g. component:{raw}")
        return cls(kind=kind, namespace=namespace, name=rest)


def canonical_ref(kind: str, namespace: str, name: str) -> str:
    """The lower-cased ``kind:namespace/name`` key every store indexes entities by."""
    return f"{kind}:{namespace}/{name}".lower()


def normalize_ref(text: str, *, default_kind: str | None = None) -> str:
    """Canonical form of a user-typed ref (API arguments, CLI flags)."""
    return str(EntityRef.parse(text, default_kind=default_kind))


def split_ref(ref: str) -> EntityRef:
    """Split a canonical ref back into its parts."""
    return EntityRef.parse(ref)
