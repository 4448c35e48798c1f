"""The build id a worker registers under Worker Versioning.

A build id names the workflow code a worker runs: Temporal pins each master and
sub-agent to the build it started on, so two workers with the same id must run
the same workflow code. It is the package version plus the git revision of the
checkout (plus a hash of workflows/ when that folder has uncommitted edits); an
installed copy with no git metadata (a container image) uses the hash of the
workflows/ sources instead. Never a random value: every worker
started from one image or one commit must agree without talking to each other.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

# The checkout (or installed tree) holding workflows/: agentfleet/deploy/ is two levels down.
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"

# An operator may name the build (CI's pipeline id, an image tag); it wins.
BUILD_ID_ENV = "AGENTFLEET_BUILD_ID"


def package_version() -> str:
    """The installed agentfleet version; 0.0.0 when run from a tree that is not installed."""
    try:
        return metadata.version("agentfleet")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def git_revision(root: Path = ROOT) -> str | None:
    """The checkout's commit (12 hex digits), or None outside a git checkout."""
    if not (root / ".git").exists():
        return None
    return _git(root, "rev-parse", "--short=12", "HEAD") or None


def workflows_edited(root: Path = ROOT) -> bool:
    """Uncommitted changes under workflows/: the revision alone would not name the code."""
    return bool(_git(root, "status", "--porcelain", "--", "workflows"))


def source_hash(folder: Path = WORKFLOWS) -> str:
    """A hash of every .py file under `folder`, by relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def compute_build_id(root: Path = ROOT, version: str | None = None) -> str:
    """The build id this checkout's workflow code runs as: version, commit, and any edits.

    Outside a git checkout it is the version and a hash of the workflow sources.
    """
    version = version or package_version()
    rev = git_revision(root)
    if rev is not None:
        # An edited checkout is another build: its runs must not share a
        # version with the commit's.
        dirty = f"-dirty{source_hash(root / 'workflows')}" if workflows_edited(root) else ""
        return f"{version}-g{rev}{dirty}"
    return f"{version}-src{source_hash(root / 'workflows')}"


@cache
def build_id() -> str:
    """This process's build id: $AGENTFLEET_BUILD_ID, else computed once."""
    override = os.environ.get(BUILD_ID_ENV, "").strip()
    return override or compute_build_id()


def _git(root: Path, *args: str) -> str:
    """What `git -C root ARGS` prints, stripped; "" when git fails or is missing."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
