"""The demo's goal and the files it works on, shared by `make demo` and tests."""

from __future__ import annotations

from pathlib import Path

DEMO_GOAL = (
    "Sort the files in inbox/ by type; write an index of docs/ to docs/INDEX.md; "
    "summarize notes/meeting.txt into notes/SUMMARY.md; "
    "summarize notes/retro.txt into notes/RETRO.md"
)

DEMO_FILES = {
    "inbox/report.pdf": "%PDF-1.4 quarterly report\n",
    "inbox/photo.jpg": "JPEG bytes\n",
    "inbox/notes.txt": "call the bank\n",
    "inbox/budget.csv": "month,amount\njan,10\n",
    "inbox/slides.pdf": "%PDF-1.4 slides\n",
    "docs/guide.md": "# Guide\n",
    "docs/faq.md": "# FAQ\n",
    "notes/meeting.txt": "Decided to ship on Friday.\nOwners: Ana, Bo.\n",
    "notes/retro.txt": "Deploys were slow; cache the build.\nOn-call handover went well.\n",
}


def seed_workspace(root: Path) -> None:
    """Write the demo's files into a fresh workspace, so every demo run starts alike."""
    for rel, text in DEMO_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
