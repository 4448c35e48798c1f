"""What a task asks for, and what a report says was done, read from plain text.

Completion is checked by code (agentfleet/verification.py), but the code
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

import posixpath
import re
from dataclasses import dataclass, field

# Paths as people type them: `notes/a.md`, `inbox/`, `poem.txt`. An extension
# starts with a letter, so "4.5" and "v1.2" are not files.
_FILE = r"(?:[\w.-]+/)*[\w-][\w.-]*\.[A-Za-z][A-Za-z0-9]{0,7}"
_DIR = r"(?:[\w.-]+/)+"
_NAME = r"[\w][\w.-]*"
_Q = r"[`'\"]?"
FILE_PATH = rf"{_Q}(?P<file>{_FILE}){_Q}(?![\w/])"
ANY_PATH = rf"{_Q}(?P<path>{_FILE}|{_DIR}[\w.-]*|{_NAME}/?){_Q}(?![\w/])"

_FILLER = r"(?:(?:a|an|the|new|empty|blank|separate|single|text)\s+)*"
_CALLED = r"(?:(?:called|named|titled)\s+)?"
_INTO = r"(?:into|to|in|as|at|inside)"

WRITE = re.compile(
    rf"\b(?:write|save|put|store|dump|record|output|type)\b[^;\n]*?\b{_INTO}\s+"
    rf"{_FILLER}(?:file\s+)?{_CALLED}{FILE_PATH}",
    re.I,
)
PRODUCE = re.compile(
    r"\b(?:summari[sz]e|index|list|catalog(?:ue)?|compile|collect|merge|combine|concatenate"
    r"|extract|export|generate|produce|draft|compose|copy|convert|compress|zip|archive|render"
    r"|translate|split|format|transcribe|tabulate)\b"
    rf"[^;\n]*?\b(?:into|to|as)\s+{_FILLER}(?:file\s+)?{_CALLED}{FILE_PATH}",
    re.I,
)
# Whatever the verb, "... into notes.html" names where the result goes; only
# idioms where "into" means "about" are left out.
INTO_FILE = re.compile(
    rf"(?<!\blook )(?<!\bdig )(?<!\bdelve )(?<!\bcheck )(?<!\bgo )\binto\s+{_FILLER}"
    rf"(?:file\s+)?{_CALLED}{FILE_PATH}",
    re.I,
)
CREATE_FILE = re.compile(
    rf"\b(?:create|make|touch|start|write|save|generate|produce)\s+{_FILLER}(?:file\s+)?"
    rf"{_CALLED}{FILE_PATH}",
    re.I,
)
_DIR_WORD = r"(?:folder|directory|dir|subfolder|subdirectory)s?"
# "folders a, b and c" continues a list; "folder x and move ..." does not.
_NOT_VERB = (
    r"(?!(?:move|copy|put|write|then|create|make|rename|delete|remove|add|sort|save|also"
    r"|append|list|summari[sz]e|index|edit|update|place|inside|in|into|with|for)\b)"
)
_DIR_NAME = rf"{_Q}{_NOT_VERB}{_NAME}/?(?:[\w.-]+/?)*{_Q}"
CREATE_DIR = re.compile(
    rf"\b(?:create|make|add|set\s+up|mkdir)\s+{_FILLER}{_DIR_WORD}\s+{_CALLED}"
    rf"(?P<names>{_DIR_NAME}(?:\s*(?:,|and|,\s*and)\s+{_DIR_NAME})*)",
    re.I,
)
NAMED_DIR = re.compile(
    rf"\b(?:create|make|add|set\s+up)\s+(?:an?|the)\s+{_Q}"
    rf"(?!(?:new|empty|blank|separate|single|sub|few|couple)\b)(?P<name>{_NAME}){_Q}"
    rf"\s+{_DIR_WORD}\b",
    re.I,
)
MKDIR = re.compile(rf"\bmkdir\s+(?:-p\s+)?{_Q}(?P<name>{_NAME}(?:/[\w.-]+)*/?){_Q}", re.I)
MOVE = re.compile(
    r"\b(?P<verb>move|mv|copy|cp|transfer)\s+(?:the\s+)?(?:file\s+|folder\s+|directory\s+)?"
    rf"{_Q}(?P<src>{_FILE}|{_DIR}[\w.-]*|it|them){_Q}\s+"
    rf"(?:(?:in)?to\s+(?:the\s+)?(?:{_DIR_WORD}\s+)?{_CALLED}"
    rf"{_Q}(?P<dst>{_FILE}|{_DIR}[\w.-]*|it|there|{_NAME}/?){_Q}|(?P<there>there|here))"
    r"(?![\w/])",
    re.I,
)
RENAME = re.compile(
    rf"\brename\s+(?:the\s+)?(?:file\s+|folder\s+)?{_Q}(?P<src>{_FILE}|{_DIR}[\w.-]*){_Q}\s+"
    rf"(?:to|as|into)\s+{_Q}(?P<dst>{_FILE}|{_NAME}/?){_Q}(?![\w/])",
    re.I,
)
DELETE = re.compile(
    r"\b(?:delete|remove|rm|erase|trash)\s+(?:the\s+)?(?:file\s+|folder\s+|directory\s+)?"
    rf"{_Q}(?P<path>{_FILE}|{_DIR}[\w.-]*){_Q}(?![\w/])",
    re.I,
)
APPEND = re.compile(
    rf"\b(?:append|add)\b[^;\n]*?\bto\s+(?:the\s+end\s+of\s+)?(?:the\s+)?(?:file\s+)?{FILE_PATH}",
    re.I,
)
EDIT = re.compile(
    r"\b(?:replace|change|edit|fix|update|correct|rewrite|modify)\b[^;\n]*?"
    rf"(?:\bin\s+(?:the\s+)?(?:file\s+)?|\b(?:edit|fix|update|rewrite|modify)\s+(?:the\s+)?)"
    rf"{FILE_PATH}",
    re.I,
)
# "In config.ini, change the port ...": the file leads the sentence.
EDIT_LEAD = re.compile(
    rf"(?:^|[.;\n]\s*)in\s+(?:the\s+)?(?:file\s+)?{FILE_PATH},?\s+"
    r"(?:replace|change|edit|fix|update|correct|set|rewrite|modify)\b",
    re.I,
)
# "Delete the tmp folder (and everything in it)".
DELETE_DIR = re.compile(
    r"\b(?:delete|remove|erase|trash)\s+(?:the\s+)?(?P<path>[\w.-]+)\s+(?:folder|directory)\b",
    re.I,
)
# "Remove every .bak file in backup/": the names are not given, the folder must change.
DELETE_MANY = re.compile(
    r"\b(?:delete|remove|erase|trash)\s+(?:every|each|all(?:\s+(?:of\s+)?the)?)\s+[^;\n]*?"
    rf"\b(?:in|inside|from|under)\s+(?:the\s+)?{_Q}(?P<dir>{_DIR}|{_NAME}/){_Q}",
    re.I,
)
# "file" is a verb only where a clause starts: "file the papers in inbox/".
SORT = re.compile(
    r"(?:\b(?:sort|organi[sz]e|arrange|group|tidy(?:\s+up)?)|(?:^|[;.,]\s*|\b(?:then|and)\s+)"
    r"file)\b[^;\n]*?"
    rf"\b(?:in|inside|within|of|from)\s+(?:the\s+)?{_Q}(?P<dir>{_DIR}|{_NAME}/){_Q}",
    re.I,
)

# With no path named, only chores that act on files ask for a change: "write a
# haiku" is answered in text, "sort the files" is not.
FILE_CHORE = re.compile(
    r"\b(?:move|copy|rename|delete|remove|erase|trash|sort|organi[sz]e|arrange|tidy"
    r"|archive|clean\s+up|de-?dup(?:e|licate))\b[^.;\n]{0,40}?\b(?:files?|folders?"
    r"|director(?:y|ies)|documents?|docs|papers|photos|images|pictures|notes|workspace"
    r"|everything|them|it)\b"
    r"|\b(?:write|save|create|make|add|put)\b[^.;\n]{0,30}?\b(?:an?|the|new|empty)\s+"
    r"(?:\w+\s+)?(?:file|folder|directory)\b",
    re.I,
)
QUESTION = re.compile(
    r"^\s*(?:how|what|why|which|who|whom|when|where|should|is|are|was|were"
    r"|do|does|did|explain|describe|tell\s+me|give\s+me\s+an?\s+(?:overview|explanation))\b",
    re.I,
)
# A step that only plans or checks quotes the goal ("Validate that every part
# of the goal was done: write a.txt ..."): the paths it quotes are not its own.
LOOK_ONLY = re.compile(
    r"^\s*(?:validate|verify|double[- ]check|check|review|confirm|inspect|ensure|make\s+sure"
    r"|plan|outline|think\s+about|proofread)\b",
    re.I,
)
HANDS_OFF = re.compile(
    r"\b(?:do\s+not|don't|without)\s+(?:chang|modify|touch|edit|writ)\w*|\bread[- ]only\b", re.I
)
_QUOTED = re.compile(r"'[^'\n]*\s[^'\n]*'|\"[^\"\n]*\s[^\"\n]*\"|“[^”\n]*”")


@dataclass
class Expectation:
    """What a finished task must show in the workspace."""

    outputs: list[str] = field(default_factory=list)  # dirs end with "/"
    removed: list[str] = field(default_factory=list)
    # Directories in which something must have changed ("sort the files in inbox/").
    touched: list[str] = field(default_factory=list)
    effects_required: bool = False

    @property
    def asks_for_files(self) -> bool:
        return bool(self.outputs or self.removed or self.touched or self.effects_required)


def norm(path: str) -> str:
    """A workspace path as the sandbox shows it; a trailing "/" marks a folder."""
    raw = path.strip().strip("`'\"").replace("\\", "/")
    is_dir = raw.endswith("/")
    clean = posixpath.normpath(raw.lstrip("/")) if raw.strip("/") else "."
    clean = clean.removeprefix("./")
    return clean + "/" if is_dir and clean != "." else clean


def _looks_dir(path: str) -> bool:
    return path.endswith("/") or "." not in posixpath.basename(path)


def _add(items: list[str], path: str) -> None:
    p = norm(path)
    if p not in items and p != ".":
        items.append(p)


def _names(group: str) -> list[str]:
    parts = re.split(r"\s*,\s*and\s+|\s*,\s*|\s+and\s+", group.strip())
    return [p.strip("`'\"") for p in parts if p.strip("`'\"")]


def expect(text: str) -> Expectation:
    """Read the outputs, removals and required effects out of a task's wording."""
    exp = Expectation()
    if LOOK_ONLY.match(text):
        return exp
    # Quoted content is what goes into a file, not where it goes.
    body = _QUOTED.sub('"…"', text)
    last_dir: str | None = None
    events: list[tuple[int, str, str]] = []
    for m in CREATE_DIR.finditer(body):
        events += [(m.start(), "dir", n) for n in _names(m.group("names"))]
    for m in NAMED_DIR.finditer(body):
        events.append((m.start(), "dir", m.group("name")))
    for m in MKDIR.finditer(body):
        events.append((m.start(), "dir", m.group("name")))
    for pattern in (WRITE, PRODUCE, INTO_FILE, CREATE_FILE, APPEND, EDIT):
        events += [(m.start(), "file", m.group("file")) for m in pattern.finditer(body)]
    for m in DELETE.finditer(body):
        events.append((m.start(), "gone", m.group("path")))
    for m in EDIT_LEAD.finditer(body):
        events.append((m.start(), "file", m.group("file")))
    for m in DELETE_DIR.finditer(body):
        events.append((m.start(), "gone", m.group("path")))
    for m in DELETE_MANY.finditer(body):
        events.append((m.start(), "touch", m.group("dir")))
    for m in SORT.finditer(body):
        events.append((m.start(), "touch", m.group("dir")))
    for m in RENAME.finditer(body):
        src, dst = norm(m.group("src")), m.group("dst")
        if "/" not in dst.rstrip("/"):
            dst = posixpath.join(posixpath.dirname(src.rstrip("/")), dst)
        events += [(m.start(), "gone", src), (m.start(), "file", dst)]
    for m in MOVE.finditer(body):
        dst = m.group("dst") or m.group("there")
        events.append((m.start(), "move:" + m.group("verb").lower(), m.group("src") + "\0" + dst))
    for _, kind, value in sorted(events, key=lambda e: e[0]):
        if kind == "dir":
            last_dir = norm(value.rstrip("/") + "/")
            _add(exp.outputs, last_dir)
        elif kind == "file":
            _add(exp.outputs, value)
        elif kind == "gone":
            _add(exp.removed, value)
        elif kind == "touch":
            _add(exp.touched, value if value.endswith("/") else value + "/")
        else:
            last_dir = _move(exp, kind.endswith(("move", "mv", "transfer")), value, last_dir)
    hands_off = bool(HANDS_OFF.search(body))
    exp.effects_required = exp.asks_for_files or (
        bool(FILE_CHORE.search(body)) and not QUESTION.match(body) and not hands_off
    )
    return exp


def _move(exp: Expectation, is_move: bool, value: str, last_dir: str | None) -> str | None:
    src, dst = value.split("\0")
    lowered = dst.lower()
    if lowered in ("it", "there", "here"):
        if last_dir is None:
            return last_dir
        dst = last_dir
    if src.lower() in ("it", "them"):
        # "Write a.txt, then move it into x/": the earlier output moves.
        src = next((o for o in reversed(exp.outputs) if not o.endswith("/")), "")
        if not src:
            return last_dir
    src = norm(src)
    if _looks_dir(dst):
        folder = norm(dst.rstrip("/") + "/")
        target = folder + posixpath.basename(src.rstrip("/"))
        last_dir = folder
    else:
        target = norm(dst)
    if src in exp.outputs and is_move:
        exp.outputs.remove(src)
    _add(exp.outputs, target)
    if is_move:
        _add(exp.removed, src)
    return last_dir


# --- what a report claims ---------------------------------------------------------

_CHANGE_WORDS = re.compile(
    r"\b(?:created|wrote|written|saved|moved|renamed|copied|deleted|removed|made|added"
    r"|appended|edited|updated|replaced|sorted|placed|filed|organi[sz]ed|archived|put"
    r"|generated|produced|stored)\b",
    re.I,
)
_NEGATED = re.compile(
    r"\b(?:not|never|no|none|unable|failed|cannot|couldn't|can't|didn't|wasn't|won't"
    r"|without|instead of)\b|n't\b",
    re.I,
)
_CLAIMED_PATH = re.compile(
    r"`(?P<tick>[^`\s]+)`|(?<![\w./@:-])(?P<path>" + _FILE + "|" + _DIR + r"[\w.-]*)(?![\w/@])"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*-])|\n+")


def claimed_changes(report: str) -> list[str]:
    """Paths a final report says this agent changed.

    Only sentences that say something was done (and do not deny it) count,
    so "I did not touch config.yaml" claims nothing.
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(report):
        if not _CHANGE_WORDS.search(sentence) or _NEGATED.search(sentence):
            continue
        for m in _CLAIMED_PATH.finditer(sentence):
            raw = m.group("tick") or m.group("path") or ""
            raw = raw.rstrip(".,;:)")
            if not raw or "://" in raw or raw.lower() in ("e.g", "i.e", "etc"):
                continue
            if m.group("tick") and not re.fullmatch(r"[\w./-]+", raw):
                continue
            _add(out, raw)
    return out
