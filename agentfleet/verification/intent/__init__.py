"""What a task asks for, and what a report says was done, read from plain text.

Completion is checked by code (agentfleet/verification/completion.py), but the code
needs to know what "done" would look like: which paths the task names as
outputs, which it asks to move away or delete, whether it asks for any file
change at all. Plans may declare outputs; a goal typed by a person does not,
so they are read from its wording here.

The reading is deliberately conservative. A path counts as an output only
when the phrasing makes it one ("into poem.txt", "a folder called archive",
"move a.txt into it"). Missing an output weakens the check; inventing one
would fail honest work. Runs in the verification activity, never in a
workflow, so improving it changes no workflow's commands.
"""

from __future__ import annotations

from agentfleet.verification.intent.claims import claimed_changes
from agentfleet.verification.intent.reading import Expectation, add_path, expect, norm

__all__ = ["Expectation", "add_path", "claimed_changes", "expect", "norm"]
