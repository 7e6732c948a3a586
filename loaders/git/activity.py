"""A repository's recent activity from ``git log``: last commit, commits and authors."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from graph_api.store import Activity
from loaders.git.repository import Repository, git

WINDOW_DAYS = 90


def read_activity(repo: Repository, commit: str, *, now: datetime | None = None) -> Activity:
    """The commit's time and the commits of the ``WINDOW_DAYS`` before ``now`` in its history.

    Authors are kept as hashes of their lower-cased e-mail: enough to count distinct people,
    and no address is copied into the catalog.
    """
    moment = now or datetime.now(UTC)
    since = int(moment.timestamp()) - WINDOW_DAYS * 86_400
    out = git(
        ["log", f"--since={since}", "--format=%ct%x00%ae", commit, "--"], cwd=repo.git_dir
    ).decode("utf-8", "replace")
    commits: list[tuple[int, str]] = []
    for line in out.splitlines():
        stamp, _, email = line.partition("\0")
        author = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
        commits.append((int(stamp), author))
    last = (
        commits[0][0]
        if commits
        else int(
            git(["log", "-1", "--format=%ct", commit, "--"], cwd=repo.git_dir).decode().strip()
        )
    )
    return Activity(
        source=repo.key,
        repository=repo.web_url,
        branch=repo.branch,
        head=commit,
        last_commit_at=datetime.fromtimestamp(last, UTC).isoformat(),
        commits=commits,
    )
