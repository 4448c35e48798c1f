"""Reading a task's wording into an Expectation: what done would look like."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from agentfleet.verification.intent import asking as ask
from agentfleet.verification.intent import patterns as pt
from agentfleet.verification.intent.content import wanted


@dataclass
class Expectation:
    """What a finished task must show in the workspace."""

    outputs: list[str] = field(default_factory=list)  # dirs end with "/"
    removed: list[str] = field(default_factory=list)
    # Directories in which something must have changed ("sort the files in inbox/").
    touched: list[str] = field(default_factory=list)
    # Files whose content the task changes: an append, an edit or a rewrite of them.
    modified: list[str] = field(default_factory=list)
    effects_required: bool = False
    # Quoted words a made or changed file must hold, or must no longer hold.
    contains: list[tuple[str, str]] = field(default_factory=list)
    lacks: list[tuple[str, str]] = field(default_factory=list)
    # Words that must be a line of their own ("one per line: a, b, c").
    lines: list[tuple[str, str]] = field(default_factory=list)
    # "key\0value": a line of a settings file must set the key to the value.
    pairs: list[tuple[str, str]] = field(default_factory=list)
    # No line may start with the text ("Remove the lines starting with #"); the lines are
    # in order ("asc" or "desc") after a sort.
    starts: list[tuple[str, str]] = field(default_factory=list)
    ordered: list[tuple[str, str]] = field(default_factory=list)
    # "LOW-HIGH" items a described content has: a haiku's three lines, a list's N items.
    counted: list[tuple[str, str]] = field(default_factory=list)
    # Rules of rows: no line twice ("Remove the duplicate lines"), a table in a column's
    # order ("COLUMN asc|desc"), new text at one end ("top" or "end").
    unique: list[tuple[str, str]] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    ends: list[tuple[str, str]] = field(default_factory=list)
    # (folder, copy): every file below the folder has its copy below the other.
    mirrors: list[tuple[str, str]] = field(default_factory=list)
    # Folders ("./" for the workspace) from which the task deletes only empty entries.
    only_empty: list[str] = field(default_factory=list)
    # "LOW-HIGH" words a text must come to ("keep it under 100 words").
    wordcounts: list[tuple[str, str]] = field(default_factory=list)
    # (folder, name): a file every subfolder of the folder must hold ("an __init__.py in
    # each subfolder of pkg/").
    in_each: list[tuple[str, str]] = field(default_factory=list)
    # A question, or work asked to leave the files alone: nothing may be moved, deleted
    # or rewritten by it.
    hands_off: bool = False
    # (output, word, source): every line of the source holding the word goes to the output.
    collects: list[tuple[str, str, str]] = field(default_factory=list)
    # (folder, kind): no file of the kind ("ext:tmp", "image", "any") may stay in it; a
    # folder ending "/**" counts its subfolders too. "unsorted": a folder a sort spreads
    # into subfolders ("Sort inbox/ by type") keeps no loose file; "nested": a folder
    # flattened keeps no file in a subfolder.
    cleared: list[tuple[str, str]] = field(default_factory=list)
    # Files the task adds to ("Add Dave to names.txt"): whatever is added, what was
    # there stays.
    added_to: list[str] = field(default_factory=list)
    # Work that reshapes whole files (a rewrite, a sort): no line need stay as it was.
    reshapes: bool = False
    # Words that make what the work writes (a summary, a list): a file it makes empty
    # is not that, unless an empty file is what was asked.
    wants_content: bool = False
    # (file, "moved" or "commented"): files whose lines the task only moves around, or
    # comments out: every line stays, in some order or behind a comment marker.
    keeps_lines: list[tuple[str, str]] = field(default_factory=list)
    # (source, "part\0part..."): a file split into parts; each of its lines is in one.
    splits: list[tuple[str, str]] = field(default_factory=list)
    # Whether the task asks the sources' size or age: a listing of the folder a file is in
    # is then no look at the file.
    reads_files: bool = False
    # The task's own words: a check that must spare whatever the task names reads them.
    said: str = ""
    # (file, "old\0new"): a name the task renames in the file ("Rename cnt to count in
    # app.py"); every whole-word use of it becomes the new one.
    renames: list[tuple[str, str]] = field(default_factory=list)
    # Paths the work reads, lists or searches ("Summarize notes.md"): where they exist,
    # the journal must show a look at them.
    sources: list[str] = field(default_factory=list)

    def keep_words_for(self, paths: set[str]) -> None:
        """Drop the words asked of any file but these: the ones the work makes or changes."""
        self.contains = [w for w in self.contains if w[0] in paths]
        self.lacks = [w for w in self.lacks if w[0] in paths]
        self.lines = [w for w in self.lines if w[0] in paths]
        self.pairs = [w for w in self.pairs if w[0] in paths]
        self.starts = [w for w in self.starts if w[0] in paths]
        self.ordered = [w for w in self.ordered if w[0] in paths]
        self.counted = [w for w in self.counted if w[0] in paths]
        self.unique = [w for w in self.unique if w[0] in paths]
        self.columns = [w for w in self.columns if w[0] in paths]
        self.ends = [w for w in self.ends if w[0] in paths]
        self.wordcounts = [w for w in self.wordcounts if w[0] in paths]

    @property
    def asks_for_files(self) -> bool:
        """Whether the task asks for any file effect: if not, its answer alone is judged."""
        return bool(
            self.outputs or self.removed or self.touched or self.modified or self.effects_required
        )


def norm(path: str) -> str:
    """A workspace path as the sandbox shows it; a trailing "/" marks a folder."""
    raw = path.strip().strip("`'\"").replace("\\", "/")
    is_dir = raw.endswith("/")
    clean = posixpath.normpath(raw.lstrip("/")) if raw.strip("/") else "."
    clean = clean.removeprefix("./")
    return clean + "/" if is_dir and clean != "." else clean


def _folder(path: str) -> str:
    """A folder as the sandbox shows it, with its slash ("." for the workspace itself)."""
    return norm(path.rstrip("/") + "/")


def _looks_dir(path: str) -> bool:
    return path.endswith("/") or "." not in posixpath.basename(path)


def add_path(items: list[str], path: str) -> None:
    """Add `path` to `items` as the sandbox shows it, once; the workspace root is no path."""
    p = norm(path)
    if p not in items and p != ".":
        items.append(p)


def _names(group: str) -> list[str]:
    parts = re.split(r"\s*,\s*and\s+|\s*,\s*|\s+and\s+", group.strip())
    return [p.strip("`'\"") for p in parts if p.strip("`'\"")]


def _placed(m: re.Match[str]) -> list[str]:
    """Files named with where they go ("notes.txt in docs/"): their paths from the root."""
    where = m.group("where") or m.group("wname")
    return [
        posixpath.join(where.rstrip("/"), f) if where and "/" not in f else f
        for f in _names(m.group("names"))
    ]


Event = tuple[int, str, str]
# "a summary of the errors in app.log": what the file holds, so it is the source; whether
# the summary goes to a file or into the answer is not said.
_HELD_IN = re.compile(
    r"\b(?:errors?|warnings?|lines?|entries|todos?|mentions?|changes|bugs?|issues|failures?"
    r"|exceptions?|events|records|rows|contents?|words|numbers|dates|names|links|headings"
    r"|sections|functions|classes|typos|mistakes|problems|messages|requests|transactions"
    r"|expenses|items)\s+in\s+(?:the\s+)?(?:file\s+)?[`'\"]?$",
    re.I,
)


def _held_in(m: re.Match[str]) -> bool:
    """Whether the file a match names holds the things the work is about."""
    return bool(_HELD_IN.search(m.string[m.start() : m.start("file")]))


def _target_after(m: re.Match[str]) -> list[Event]:
    """The file the work goes to, named after the source a match stopped at, if any."""
    later = pt.THEN_TARGET.match(m.string, m.end())
    return [(m.start(), "file", later.group("file"))] if later else []


_FOR = re.compile(r"\bfor\b", re.I)


def _events(body: str) -> list[Event]:
    """Every phrasing found, as (position, kind, path): read in the order written."""
    events = [*_made(body), *_changed(body), *_moved(body)]
    return sorted(events, key=lambda e: e[0])


def _made(body: str) -> list[Event]:
    """Folders and files the wording asks to make."""
    events: list[Event] = []
    for m in pt.CREATE_DIR.finditer(body):
        events += [(m.start(), "dir", n) for n in _names(m.group("names"))]
    events += [(m.start(), "dir", m.group("name")) for m in pt.NAMED_DIR.finditer(body)]
    events += [
        (m.start(), "dir", m.group("name") or m.group("path")) for m in pt.MKDIR.finditer(body)
    ]
    for m in pt.WANT.finditer(body):
        kind = "dir" if pt.DIR_WORD.fullmatch(m.group("kind")) else "file"
        events.append((m.start(), kind, m.group("name")))
    for m in pt.CALLED_IN.finditer(body):
        kind = "file" if m.group("kind").lower() == "file" else "dir"
        events.append((m.start(), kind, posixpath.join(m.group("dir"), m.group("name"))))
    for m in (*pt.WRITE.finditer(body), *pt.NOTE_IN.finditer(body)):
        if _held_in(m):
            events += _target_after(m)
            continue
        # "Write unit tests for parse_date in utils/dates.py": the file holds what the
        # work is for, not (surely) where it goes; some change is still asked for.
        source = m.group("prep").lower() == "in" and _FOR.search(m.group("gap"))
        events.append((m.start(), "change" if source else "file", m.group("file")))
    made = (pt.PRODUCE, pt.INTO_FILE, pt.GIST, pt.COPY_NAMED, pt.CONVERT_IN, pt.ADD_A_FILE)
    for m in pt.AND_ANOTHER.finditer(body):
        clause = body[body.rfind("\n", 0, m.start()) + 1 : m.start()].rsplit(";", 1)[-1]
        if pt.MADE_HOLDING.search(clause):
            events.append((m.start(), "file", m.group("file")))
    for pattern in (*made, pt.A_FILE_IN):
        for m in pattern.finditer(body):
            events += _target_after(m) if _held_in(m) else [(m.start(), "file", m.group("file"))]
    for m in (*pt.CREATE_FILE.finditer(body), *pt.PUT_A_FILE.finditer(body)):
        events += [(m.start(), "file", path) for path in _placed(m)]
    events += [(m.start(), "dir", m.group("dir")) for m in pt.PROJECT_IN.finditer(body)]
    events += [(m.start(), "touch", m.group("dir")) for m in pt.IN_EACH_OF.finditer(body)]
    for m in pt.SPLIT_INTO.finditer(body):
        events += [(m.start(), "file", name) for name in _names(m.group("names"))]
    for m in pt.NAMED_LATER.finditer(body):
        named = _names(m.group("names")) if m.group("names") else [m.group("file")]
        events += [(m.start(), "file", path) for path in named]
    for m in pt.COPY_INTO_DIR.finditer(body):
        copy = posixpath.join(m.group("dir"), posixpath.basename(m.group("src")))
        events.append((m.start(), "file", copy))
    return events


def _changed(body: str) -> list[Event]:
    """Files the wording asks to change in place."""
    events: list[Event] = []
    changed = (pt.APPEND, pt.EDIT, pt.ADD_TO, pt.IN_FILE_EDIT, pt.RESTYLE)
    for pattern in (*changed, pt.LINES_IN_PLACE, pt.SORT_FILE, pt.TAKE_OUT, pt.REWORK):
        events += [(m.start(), "modify", m.group("file")) for m in pattern.finditer(body)]
    events += [(m.start(), "modify-it", "") for m in pt.ADD_TO_IT.finditer(body)]
    return events


def _moved(body: str) -> list[Event]:
    """Paths the wording asks to remove, move or rename, and folders that must change."""
    events: list[Event] = []
    for m in pt.DELETE.finditer(body):
        # "Remove notes.txt from docs/": the one in that folder.
        where = pt.FROM_DIR.match(body, m.end())
        folder = where.group("dir").rstrip("/") if where else ""
        events += [
            (m.start(), "gone", posixpath.join(folder, p) if "/" not in p else p)
            for p in _names(m.group("paths"))
        ]
    events += [(m.start(), "gone", m.group("path")) for m in pt.DELETE_DIR.finditer(body)]
    for pattern in (pt.SORT, pt.REMOVE_MANY, pt.SPREAD, pt.FOLDERS_IN, pt.IN_DIR_WORK):
        for m in pattern.finditer(body):
            # A sort that spreads the folder's files into subfolders must leave none loose.
            clause = body[m.start() :].split(";", 1)[0].split("\n", 1)[0]
            spreads = pattern is pt.SPREAD or (pattern is pt.SORT and pt.SPREAD_HOW.search(clause))
            events.append((m.start(), "spread" if spreads else "touch", m.group("dir")))
    for m in pt.SORT_NAMED.finditer(body):
        events.append((m.start(), "touch", m.group("dir") or m.group("named")))
    for m in pt.RENAME_DIR.finditer(body):
        events += [(m.start(), "gone", m.group("src")), (m.start() + 1, "dir", m.group("dst"))]
    events += [(m.start(), "fill", m.group("dir")) for m in pt.MOVE_MANY.finditer(body)]
    for m in pt.RENAME.finditer(body):
        src, dst = norm(m.group("src")), m.group("dst")
        if "/" not in dst.rstrip("/"):
            dst = posixpath.join(posixpath.dirname(src.rstrip("/")), dst)
        events += [(m.start(), "gone", src), (m.start() + 1, "file", dst)]
    for m in pt.MOVE.finditer(body):
        dst, verb = m.group("dst") or m.group("there"), "move:" + m.group("verb").lower()
        if m.group("dirword") and not dst.endswith("/"):
            dst += "/"  # "into a backup folder"
        # "... into build/." ends a sentence: the folder is "build/", not a file "build".
        dst = dst[:-1] if dst.endswith("/.") else dst
        events += [(m.start(), verb, src + "\0" + dst) for src in _names(m.group("src"))]
    for m in pt.NEW_EXTENSION.finditer(body):
        src = m.group("src")
        renamed = src.rsplit(".", 1)[0] + "." + m.group("ext")
        events += [(m.start(), "gone", src), (m.start() + 1, "file", renamed)]
    return events


# A sentence that ends before the question mark does: the text says more than it asks.
_MORE = re.compile(r"[.!?;]\s|\n")


def _content(m: re.Match[str]) -> str:
    """A quoted text as the patterns see it: a name in quotes ("my notes.txt") stays."""
    quoted = m.group(0)
    return quoted if _QUOTED_NAME.fullmatch(quoted[1:-1]) else '"…"'


# A whole quoted text that is a file's name, spaces and all: a few words and a
# lower-case extension ("my notes.txt"), where a sentence ("moved to Mon.Tue") is content.
_QUOTED_NAME = re.compile(r"[\w()-]+(?:[ /][\w()-]+){0,4}\.[a-z][a-z0-9]{0,4}")


def _sources(body: str) -> list[str]:
    """The paths the wording asks the work to read, list or search, unless it asks how."""
    if ask.HOW_TO.match(body):
        return []
    found: list[str] = []
    for m in ask.LOOKED_AT.finditer(body):
        for path in _names(m.group("paths")):
            add_path(found, path)
    if ask.ASKED_ABOUT.match(body):
        for m in ask.ASKED_PATH.finditer(body):
            add_path(found, m.group("path"))
    return found


def _one_question(text: str) -> bool:
    """Whether the text is one question: "how do I sort names.txt?" asks how, not for it."""
    one = text.strip()
    return bool(ask.QUESTION.match(one)) and one.endswith("?") and not _MORE.search(one)


def expect(text: str) -> Expectation:
    """Read the outputs, removals and required effects out of a task's wording."""
    exp = Expectation(said=text)
    # Quoted content is what goes into a file, not where it goes.
    body = pt.QUOTED.sub(_content, pt.URL.sub("a link", text))
    exp.sources = _sources(body)
    exp.reads_files = bool(ask.SIZE_ASKED.search(body))
    looks = ask.LOOK_ONLY.match(text) and not ask.THEN_CHANGE.search(text.split(":", 1)[0])
    asked = _one_question(text)
    _how(exp, body, asked=asked)
    if looks or asked:
        return exp
    _rules(exp, text, body)
    last_dir: str | None = None
    wants_change = False
    for _, kind, value in _events(body):
        if kind == "dir":
            last_dir = _folder(value)
            add_path(exp.outputs, last_dir)
        elif kind == "file":
            add_path(exp.outputs, value)
        elif kind == "modify":
            add_path(exp.modified, value)
        elif kind == "modify-it":
            last = next((o for o in reversed(exp.outputs) if not o.endswith("/")), None)
            if last is not None:
                add_path(exp.modified, last)
        elif kind == "change":
            wants_change = True
        elif kind == "gone":
            add_path(exp.removed, value)
        elif kind in ("touch", "spread"):
            folder = value if value.endswith("/") else value + "/"
            add_path(exp.touched, folder)
            if kind == "spread" and (folder, "unsorted") not in exp.cleared:
                exp.cleared.append((folder, "unsorted"))
        elif kind == "fill":
            folder = _folder(value)
            add_path(exp.outputs, folder)
            add_path(exp.touched, folder)
            last_dir = folder
        else:
            is_move = kind.endswith(("move", "mv", "transfer"))
            last_dir = _move(exp, value, last_dir, is_move=is_move)
    _renamed(exp, body)
    # A file that is changed in place need not also be made by the same agent.
    exp.outputs = [o for o in exp.outputs if o not in exp.modified]
    # What the work makes or changes has checks of its own.
    made = {p.rstrip("/") for p in (*exp.outputs, *exp.modified, *exp.removed, *exp.touched)}
    exp.sources = [p for p in exp.sources if p.rstrip("/") not in made]
    _words(exp, text)
    hands_off = bool(ask.HANDS_OFF.search(body))
    exp.effects_required = (
        exp.asks_for_files
        or wants_change
        or (bool(pt.FILE_CHORE.search(body)) and not ask.QUESTION.match(body) and not hands_off)
    )
    return exp


def _renamed(exp: Expectation, body: str) -> None:
    """Names renamed inside files: the files change, and hold the new name."""
    for m in pt.RENAME_NAME.finditer(body):
        old, new = m.group("old"), m.group("new")
        if pt.A_FILE.fullmatch(old) or pt.A_FILE.fullmatch(new):
            continue  # a file renamed, not a name in one
        for path in _names(m.group("files")):
            add_path(exp.modified, path)
            exp.renames.append((norm(path), f"{old}\0{new}"))
            exp.contains.append((norm(path), new))


def _how(exp: Expectation, body: str, *, asked: bool) -> None:
    """How the work is to treat the files: leave them, fill them, or reshape them."""
    exp.hands_off = bool(asked or ask.HANDS_OFF.search(body))
    exp.wants_content = bool(pt.WANTS_CONTENT.search(body)) and not pt.EMPTY_OK.search(body)
    exp.reshapes = bool(pt.RESHAPES.search(body))


def _rules(exp: Expectation, text: str, body: str) -> None:
    """The rules file work must keep, read only when the task is work, not a question.

    Added-to files stay whole, a file goes in each folder, parts and copies are
    complete, only empty entries are deleted, kinds of file go, moved lines stay.
    "How do I copy all the files in config/ into backup/?" asks for none of it.
    """
    for pattern in (pt.ADD_TO, pt.APPEND):
        for m in pattern.finditer(body):
            if not pt.INTO_CODE.search(m.group(0)):
                add_path(exp.added_to, m.group("file"))
    for m in pt.IN_EACH_OF.finditer(body):
        exp.in_each += [(_folder(m.group("dir")), n) for n in _names(m.group("names"))]
    for m in pt.SPLIT_INTO.finditer(body):
        parts = [norm(n) for n in _names(m.group("names"))]
        exp.splits.append((norm(m.group("src")), "\0".join(parts)))
    for m in pt.COPY_ALL.finditer(body):
        src, dst = (_folder(m.group(g)) for g in ("src", "dst"))
        exp.mirrors.append((src, dst))
        add_path(exp.touched, dst)
    for m in pt.EMPTY_ONES.finditer(body):
        exp.only_empty.append(_folder(m.group("dir") or "."))
    for m in pt.FLATTEN.finditer(body):
        exp.cleared.append((_folder(m.group("dir")), "nested"))
    for m in pt.RENAME_KIND.finditer(body):
        exp.cleared.append((_folder(m.group("dir")), f"ext:{m.group('ext').lower()}"))
    for pattern, how in ((pt.MOVE_WITHIN, "moved"), (pt.COMMENT_OUT, "commented")):
        exp.keeps_lines += [(norm(m.group("file")), how) for m in pattern.finditer(body)]
    for m in pt.CLEAR_KIND.finditer(body):
        _cleared(exp, m)
    for m in pt.COLLECT_LINES.finditer(text):
        word = m.group("q1") or m.group("q2") or m.group("word")
        exp.collects.append((norm(m.group("file")), word, norm(m.group("src"))))


def _cleared(exp: Expectation, m: re.Match[str]) -> None:
    """A kind of file to go from a folder.

    A move empties the folder's own level of it, a delete the whole folder (the
    workspace, when none is named).
    """
    moving = m.group("verb").lower() == "move"
    folder = m.group("dir")
    if pt.WHICH_ONES.match(m.string, m.end()):
        return  # "the photos whose year is before 2024": some of them, which is for the files
    if moving and not folder:
        return
    ext = m.group("ext") or m.group("ext2")
    kind = f"ext:{ext.lower()}" if ext else "image" if m.group("kind") else "any"
    if kind == "any" and not moving:
        return  # "Delete all files" is for the folder check
    top = _folder(folder) if folder else "./"
    exp.cleared.append((top if moving else top + "**", kind))


def _words(exp: Expectation, text: str) -> None:
    """The quoted words to find in, or not find in, files this task makes or changes.

    Nowhere else: "Tell me whether app.log contains 'ERROR'" asks nothing of app.log.
    """
    by_how = {
        "holds": exp.contains,
        "lacks": exp.lacks,
        "line": exp.lines,
        "pair": exp.pairs,
        "start": exp.starts,
        "order": exp.ordered,
        "count": exp.counted,
        "unique": exp.unique,
        "column": exp.columns,
        "end": exp.ends,
        "words": exp.wordcounts,
    }
    for w in wanted(text):
        pair = (norm(w.path), w.text)
        if pair not in by_how[w.how]:
            by_how[w.how].append(pair)
    exp.keep_words_for(set(exp.outputs) | set(exp.modified))


def _move(exp: Expectation, value: str, last_dir: str | None, *, is_move: bool) -> str | None:
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
            # "Find the files that ... and copy them into invoices/": something lands there.
            if _looks_dir(dst):
                folder = _folder(dst)
                add_path(exp.outputs, folder)
                add_path(exp.touched, folder)
            return last_dir
    src = norm(src)
    if _looks_dir(dst):
        folder = _folder(dst)
        target = folder + posixpath.basename(src.rstrip("/"))
        last_dir = folder
    else:
        target = norm(dst)
    if src in exp.outputs and is_move:
        exp.outputs.remove(src)
    add_path(exp.outputs, target)
    if is_move:
        add_path(exp.removed, src)
    return last_dir
