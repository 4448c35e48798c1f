"""What the workflows themselves need of the check: the task's own wording, and the status.

Kept apart from completion.py so the workflow modules, imported when a worker starts, do
not pull in the intent reader with them: compiling its patterns cost a restarted worker
about 0.5 s before it polled (issue #18). The reader is imported where the check runs.
"""

from __future__ import annotations

from agentfleet.contracts.models import Verification
from agentfleet.contracts.status import NodeStatus
from agentfleet.delegation.prompts import REPORTS_HEADER

# Dependency reports and input-file lists are context for the model, not the
# task's own wording: an output named in a sibling's report is not this one's.
_CONTEXT_PREFIXES = ("Files:", "Produce:")


def task_wording(task: str) -> str:
    """The part of a task text that says what to do."""
    text = task.split(REPORTS_HEADER, 1)[0]
    lines = [ln for ln in text.splitlines() if not ln.startswith(_CONTEXT_PREFIXES)]
    if lines and lines[0].lower().startswith("task:"):
        lines[0] = lines[0][5:]
    # A goal taken whole is its own title and description: said twice, it is still one
    # question ("Which of a.txt and b.txt is bigger?"), not two sentences.
    said = list(dict.fromkeys(ln.strip() for ln in lines))
    return "\n".join(said).strip()


def settle(outcome: Verification) -> tuple[NodeStatus, str | None]:
    """An agent that stopped as if done: `completed` only if its check passed."""
    if outcome.passed:
        return "completed", None
    return "unverified", f"unverified: {outcome.reason}"
