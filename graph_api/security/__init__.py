"""Authentication (API tokens, OIDC) and the one place that decides authorization."""

from graph_api.security.policy import Policy, Role, Viewer

__all__ = ["Policy", "Role", "Viewer"]
