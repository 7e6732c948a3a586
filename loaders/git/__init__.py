"""Git repositories as the source of truth: catalog, ownership, packages, docs, activity."""

from loaders.git.repository import GitError, Repository, RepositorySpec
from loaders.git.source import GitLoadOptions, GitRepositorySource, expand, load_git

__all__ = [
    "GitError",
    "GitLoadOptions",
    "GitRepositorySource",
    "Repository",
    "RepositorySpec",
    "expand",
    "load_git",
]
