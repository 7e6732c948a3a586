"""Authorization, decided here and nowhere else.

Roles: ``viewer`` reads the catalog; ``editor`` also changes entities its team (or a team
below it) owns; ``admin`` may do anything, including reading the audit log. Cost and findings
are visible to the owning team, admins, and the configured finance/security roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from graph_api.api.errors import Forbidden, Unauthenticated
from graph_api.model import RelationType
from graph_api.settings import Settings
from graph_api.store import Direction, GraphStore


class Role(str, Enum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


@dataclass(slots=True)
class Viewer:
    """Who is asking, as authentication established it."""

    name: str
    role: str | None = None
    team: str | None = None
    authenticated: bool = False
    # Filled on first use per request: the viewer's team and every team below it.
    _teams: frozenset[str] | None = field(default=None, repr=False)

    @classmethod
    def anonymous(cls) -> Viewer:
        return cls(name="anonymous")

    @classmethod
    def local_admin(cls, name: str) -> Viewer:
        """The operator at the CLI: whoever can open the store file already controls it."""
        return cls(name=name, role=Role.ADMIN.value, authenticated=True)


@dataclass(slots=True)
class Policy:
    """Every permission devgraph checks.

    Args:
        store: used to expand a team to the teams below it.
        cost_roles: roles that may see every cost.
        findings_roles: roles that may see every finding.
        allow_anonymous_read: whether an unauthenticated viewer may read the catalog.
    """

    store: GraphStore
    cost_roles: frozenset[str] = frozenset({"finance"})
    findings_roles: frozenset[str] = frozenset({"security"})
    allow_anonymous_read: bool = False

    @classmethod
    def from_settings(cls, store: GraphStore, settings: Settings) -> Policy:
        return cls(
            store,
            cost_roles=frozenset(settings.cost_roles),
            findings_roles=frozenset(settings.findings_roles),
            allow_anonymous_read=settings.allow_anonymous_read,
        )

    def valid_roles(self) -> frozenset[str]:
        return frozenset(r.value for r in Role) | self.cost_roles | self.findings_roles

    def require_read(self, viewer: Viewer) -> None:
        if not viewer.authenticated and not self.allow_anonymous_read:
            raise Unauthenticated("authentication required")

    def require_admin(self, viewer: Viewer) -> None:
        self._require_authenticated(viewer)
        if viewer.role != Role.ADMIN.value:
            raise Forbidden("only admins may do this")

    async def require_edit(self, viewer: Viewer, owners: Iterable[str | None]) -> None:
        """Allow a change only when the viewer's team owns every entity it touches.

        Args:
            owners: owner refs of the entities before and after the change (None = no owner).
        """
        self._require_authenticated(viewer)
        if viewer.role == Role.ADMIN.value:
            return
        if viewer.role != Role.EDITOR.value:
            raise Forbidden(f"role {viewer.role} may not change the catalog")
        teams = await self.teams_of(viewer)
        for owner in owners:
            if owner is None or owner not in teams:
                raise Forbidden(
                    f"{viewer.name} may change only entities owned by {viewer.team} "
                    f"or its teams; this one is owned by {owner or 'nobody'}"
                )

    async def can_see_cost(self, viewer: Viewer, owner: str | None) -> bool:
        return await self._can_see(viewer, owner, self.cost_roles)

    async def require_cost(self, viewer: Viewer, owner: str | None, ref: str) -> None:
        """Allow the cost of ``ref`` (owned by ``owner``; a team owns its own cost)."""
        if not await self.can_see_cost(viewer, owner):
            raise Forbidden(
                f"the cost of {ref} is visible to its owning team ({owner or 'none'}) and the "
                "teams above it, admins and the cost roles"
            )

    def require_cost_report(self, viewer: Viewer) -> None:
        """Cost across every team: admins and the configured cost roles only."""
        if not viewer.authenticated or (
            viewer.role != Role.ADMIN.value and viewer.role not in self.cost_roles
        ):
            roles = ", ".join(sorted({Role.ADMIN.value, *self.cost_roles}))
            raise Forbidden(f"the cost report needs one of the roles: {roles}")

    async def can_see_findings(self, viewer: Viewer, owner: str | None) -> bool:
        return await self._can_see(viewer, owner, self.findings_roles)

    async def require_findings(self, viewer: Viewer, owner: str | None, ref: str) -> None:
        """Allow the findings of ``ref`` (owned by ``owner``; a team owns its own findings)."""
        if not await self.can_see_findings(viewer, owner):
            raise Forbidden(
                f"the findings of {ref} are visible to its owning team ({owner or 'none'}) and "
                "the teams above it, admins and the security roles"
            )

    def require_all_findings(self, viewer: Viewer) -> None:
        """Findings across every team: admins and the configured security roles only."""
        if not viewer.authenticated or (
            viewer.role != Role.ADMIN.value and viewer.role not in self.findings_roles
        ):
            roles = ", ".join(sorted({Role.ADMIN.value, *self.findings_roles}))
            raise Forbidden(
                f"findings across every team need one of the roles: {roles}; filter by your "
                "team, one of its entities or systems instead"
            )

    async def _can_see(self, viewer: Viewer, owner: str | None, roles: frozenset[str]) -> bool:
        if not viewer.authenticated:
            return False
        if viewer.role == Role.ADMIN.value or viewer.role in roles:
            return True
        return owner is not None and owner in await self.teams_of(viewer)

    async def teams_of(self, viewer: Viewer) -> frozenset[str]:
        """The viewer's team and all teams below it (childOf, transitively)."""
        if viewer._teams is None:
            if viewer.team is None:
                viewer._teams = frozenset()
            else:
                below = await self.store.reachable(
                    viewer.team, RelationType.CHILD_OF, Direction.IN, 30
                )
                viewer._teams = frozenset({viewer.team, *(r.ref for r in below)})
        return viewer._teams

    @staticmethod
    def _require_authenticated(viewer: Viewer) -> None:
        if not viewer.authenticated:
            raise Unauthenticated("authentication required")
