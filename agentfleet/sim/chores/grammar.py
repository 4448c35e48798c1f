"""From a request's words to operations: the common file-chore phrasings.

One function per family, tried in a fixed order (the more specific first: an
index is also a "write", a folder is also a "create"). The planner reads a
goal with the same grammar, so the outputs it promises are the ones an agent
will make.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from agentfleet.sim.chores.answers import Answer, Cannot, Check, PlanSteps, Say
from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.content import PRONOUNS, content_of, is_generated, unquote
from agentfleet.sim.chores.files import Append, Copy, Delete, Edit, MakeDirs, Move, Write, into
from agentfleet.sim.chores.survey import ForEach, Index, ListFiles, ReadFile, Sort, Summarize
from agentfleet.sim.chores.text import (
    Context,
    clauses,
    clean_path,
    has_ext,
    looks_like_file,
    resolve,
)

P = r"(?:`[^`]+`|'[^']+'|\"[^\"]+\"|[^\s,;]+)"
ART = r"(?:(?:a|an|the|my|our|this|that)\s+)?"
NEW = r"(?:(?:new|empty|blank|fresh)\s+)*"
NAMED = r"(?:(?:called|named|titled)\s+)?"
FOLDER = r"(?:folder|directory|dir|subfolder|subdirectory)"
PLAN_PREFIX = "plan how to approach:"
CHECK_PREFIX = "validate that every part of the goal was done:"
DEFAULT_INDEX = "INDEX.md"
_FLAGS = re.IGNORECASE | re.DOTALL

_TARGET = re.compile(
    rf"^(?P<head>.*?)\s+(?:to|into|in|as|at|inside|under|called|named)\s+"
    rf"(?:{ART}{NEW}(?:text\s+|markdown\s+)?file\s+{NAMED})?(?P<t>{P})$",
    _FLAGS,
)
_EVERYTHING = re.compile(
    r"^(?:everything|all|all\s+(?:the\s+)?files|every\s+file|all\s+of\s+it|it\s+all"
    r"|(?:the\s+)?(?:whole\s+|entire\s+)?workspace|the\s+files|files|)$",
    re.IGNORECASE,
)
_SCOPE_LEAD = re.compile(
    r"^(?:(?:all|every|each)\s+)?(?:of\s+)?(?:the\s+)?(?:files?|contents?|entries|everything|things)?"
    rf"\s*(?:in|inside|under|of|from|within)?\s*{ART}(?:{FOLDER}\s+)?",
    re.IGNORECASE,
)
_MANY = re.compile(
    r"^(?:all|every|each|the)\s+(?:of\s+)?(?:the\s+)?(?:(?P<ext>\.?[a-z0-9]+)\s+)?files?"
    rf"(?:\s+(?:in|from|inside|under)\s+{ART}(?:{FOLDER}\s+)?(?P<dir>{P}))?$"
    rf"|^everything\s+(?:in|from|inside|under)\s+{ART}(?:{FOLDER}\s+)?(?P<dir2>{P})$",
    re.IGNORECASE,
)
_EXT_WORDS = {"markdown": "md", "text": "txt", "python": "py", "image": "png", "json": "json"}
_FILE_VERBS = re.compile(
    r"\b(?:write|create|make|save|put|store|move|rename|copy|append|add|delete|remove|edit"
    r"|replace|sort|index|summari[sz]e|folder|directory|file)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^(?:what|why|how|who|when|where|which|explain|describe|define|tell\s+me|is|are|can"
    r"|does|do|should|could|would)\b",
    re.IGNORECASE,
)


def split_target(rest: str) -> tuple[str, str | None]:
    """("notes.md", "summary.md") from "notes.md into summary.md"."""
    m = _TARGET.match(rest.strip())
    if m and (looks_like_file(m.group("t")) or m.group("t")[:1] in "'\"`"):
        return m.group("head").strip(), clean_path(m.group("t"))
    return rest.strip(), None


def scope_of(phrase: str) -> str:
    p = phrase.strip()
    if _EVERYTHING.match(p):
        return "."
    rest = _SCOPE_LEAD.sub("", p, count=1).strip() or p
    rest = re.sub(rf"\s+{FOLDER}$", "", rest, flags=re.IGNORECASE)
    return "." if _EVERYTHING.match(rest) else clean_path(rest)


def _dest(raw: str) -> tuple[str, bool]:
    """(path, is_folder) for a move or copy destination as written."""
    r = raw.strip()
    m = re.match(
        rf"^{ART}{NEW}(?:(?:{FOLDER})\s+{NAMED}(?P<a>{P})|(?P<b>{P})\s+{FOLDER})$", r, re.I
    )
    if m:
        return clean_path(m.group("a") or m.group("b")), True
    if r.endswith("/") or not has_ext(r):
        return clean_path(r), True
    return clean_path(r), False


def _many(src: str) -> tuple[str, str | None] | None:
    m = _MANY.match(src.strip())
    if not m:
        return None
    ext = (m.group("ext") or "").lstrip(".").lower() or None
    ext = _EXT_WORDS.get(ext, ext) if ext else None
    directory = m.group("dir") or m.group("dir2")
    return (clean_path(directory) if directory else "."), ext


def _names(text: str) -> tuple[str, ...]:
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text.strip())
    return tuple(clean_path(p) for p in parts if p.strip())


# --- one parser per family: (clause, context, produce) -> op or None ---------------------

Parser = Callable[[str, Context, tuple[str, ...]], Op | None]


def _sort(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^(?:sort|organi[sz]e|group|arrange|tidy(?:\s+up)?|file)\s+(?P<rest>.*?)\s*"
        r"(?:into\s+(?:sub)?folders\s+)?by\s+(?:file\s+)?"
        r"(?P<by>type|extension|kind|format|topic|subject|theme|category)s?$",
        s,
        _FLAGS,
    )
    if not m:
        return None
    by_topic = m.group("by").lower() in ("topic", "subject", "theme", "category")
    return Sort(scope_of(m.group("rest")), by_topic)


def _index(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^(?:(?:write|create|make|build|generate|produce|add|prepare|update)\s+)?"
        r"(?:an?\s+|the\s+)?(?:index|table\s+of\s+contents)\b(?P<rest>.*)$",
        s,
        _FLAGS,
    ) or re.match(r"^index\s+(?P<rest>.+)$", s, _FLAGS)
    if not m:
        return _listing_file(s, ctx)
    head, target = split_target(m.group("rest"))
    head = re.sub(r"^\s*(?:of|for|listing|covering)\s+", "", head, flags=re.I)
    return Index(scope_of(head), target or DEFAULT_INDEX)


def _listing_file(s: str, ctx: Context) -> Op | None:
    """ "write papers/INDEX.md listing them": an index of what the file sits with."""
    m = re.match(
        rf"^(?:write|create|make|build|generate|produce)\s+{ART}(?:new\s+)?(?:file\s+)?"
        rf"(?P<t>{P})\s+(?:listing|that\s+lists|which\s+lists|indexing|to\s+list)"
        r"\s+(?P<what>.+)$",
        s,
        _FLAGS,
    )
    if not m or not looks_like_file(m.group("t")):
        return None
    target, what = clean_path(m.group("t")), m.group("what").strip().lower()
    if what in ("them", "all of them", "it", "those", "these", "the files", "everything"):
        scope = posixpath.dirname(target) or ctx.last_dir or "."
    else:
        scope = scope_of(what)
    return Index(scope, target)


def _summarize(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(r"^(?:summari[sz]e|sum\s+up)\s+(?P<rest>.+)$", s, _FLAGS) or re.match(
        r"^(?:write|create|make|produce|prepare|add|save|give\s+me)\s+(?:an?\s+)?"
        r"(?:short\s+|brief\s+|quick\s+)?summary\s+(?:of|for)\s+(?P<rest>.+)$",
        s,
        _FLAGS,
    )
    if not m:
        return None
    head, target = split_target(m.group("rest"))
    head = re.sub(r"^(?:the\s+)?(?:file\s+)?", "", head, flags=re.I)
    return Summarize(clean_path(head), target)


def _list(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^(?:write|save|create|make|put)\s+(?:an?\s+|the\s+)?(?:list|listing)\s+of\s+(?P<rest>.+)$",
        s,
        _FLAGS,
    ) or re.match(r"^(?:list|show|display|enumerate)\s+(?:me\s+)?(?P<rest>.*)$", s, _FLAGS)
    q = re.match(
        r"^(?:what|which)\s+files\s+(?:are\s+|exist\s+)?(?:there\s+)?"
        r"(?:(?:in|under|inside)\s+(?P<d>.+?))?\s*\??$"
        r"|^what(?:'s|\s+is)\s+in\s+(?P<e>.+?)\s*\??$",
        s,
        _FLAGS,
    )
    if q:
        what, target = (q.group("d") or q.group("e") or ""), None
    elif m:
        what, target = split_target(m.group("rest"))
    else:
        return None
    bare = re.sub(
        r"^(?:the\s+)?(?:contents?\s+of\s+)?(?:the\s+)?(?:file\s+)?", "", what, flags=re.I
    )
    if looks_like_file(bare) and target is None:
        return ReadFile(clean_path(bare))
    recursive = bool(re.search(r"\brecursive|\ball\s+files\b|\bevery\s+file\b", what, re.I))
    what = re.sub(r",?\s*recursively$", "", what, flags=re.I)
    return ListFiles(scope_of(what), recursive, target)


def _read(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^(?:read|open|print|cat|display|show)\s+(?:me\s+)?(?:the\s+)?(?:contents?\s+of\s+)?"
        rf"(?:the\s+file\s+)?(?P<p>{P})$",
        s,
        _FLAGS,
    ) or re.match(rf"^what\s+does\s+(?P<p>{P})\s+(?:say|contain)\s*\??$", s, _FLAGS)
    return ReadFile(clean_path(m.group("p"))) if m and has_ext(m.group("p")) else None


# Copy and move sources are greedy, so "all .txt files in inbox into texts/"
# splits at the last preposition, not at the "in" of the source.


def _copy(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^(?:copy|duplicate|back\s+up)\s+(?P<src>.+)\s+(?:into|to|as|in|inside|under)\s+"
        r"(?P<dst>.+)$",
        s,
        _FLAGS,
    ) or re.match(
        r"^(?:make|create)\s+(?:an?\s+)?(?:copy|backup|duplicate)\s+of\s+(?P<src>.+?)\s+"
        r"(?:called|named|as|at|in|into|to)\s+(?P<dst>.+)$",
        s,
        _FLAGS,
    )
    if not m:
        b = re.match(
            rf"^(?:(?:make|create)\s+(?:an?\s+)?(?:copy|backup)\s+of|back\s+up)\s+(?P<src>{P})$",
            s,
            _FLAGS,
        )
        return Copy(clean_path(b.group("src")), clean_path(b.group("src")) + ".bak") if b else None
    dst, is_dir = _dest(m.group("dst"))
    if many := _many(m.group("src")):
        return ForEach("copy", many[0], dst, many[1])
    src = clean_path(re.sub(r"^(?:the\s+file\s+)", "", m.group("src"), flags=re.I))
    return Copy(src, into(dst, src) if is_dir else dst)


def _move(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^move\s+(?P<src>.+)\s+(?:into|to|in|inside|under|over\s+to)\s+(?P<dst>.+)$", s, _FLAGS
    )
    if not m:
        return None
    dst, is_dir = _dest(m.group("dst"))
    if many := _many(m.group("src")):
        return ForEach("move", many[0], dst, many[1])
    src = clean_path(re.sub(r"^(?:the\s+(?:file|folder)\s+)", "", m.group("src"), flags=re.I))
    return Move(src, into(dst, src) if is_dir else dst)


def _rename(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^rename\s+(?:the\s+(?:file|folder)\s+)?(?P<src>{P})\s+(?:to|as|into)\s+(?P<dst>{P})$",
        s,
        _FLAGS,
    )
    if not m:
        return None
    src, dst = clean_path(m.group("src")), clean_path(m.group("dst"))
    if "/" not in dst:
        dst = into(posixpath.dirname(src) or ".", dst)
    return Move(src, dst, verb="Renamed")


def _delete(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(r"^(?:delete|remove|erase|trash|rm)\s+(?P<rest>.+)$", s, _FLAGS)
    if not m:
        return None
    if many := _many(m.group("rest")):
        return ForEach("delete", many[0], None, many[1])
    rest = re.sub(r"^(?:the\s+)?(?:files?\s+)?", "", m.group("rest"), flags=re.I)
    return Delete(_names(rest))


def _edit(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^(?:replace|change|substitute|swap)\s+(?P<old>.+?)\s+(?:with|to|by|for)\s+"
        rf"(?P<new>.+?)\s+in\s+(?:the\s+file\s+)?(?P<t>{P})$",
        s,
        _FLAGS,
    ) or re.match(
        rf"^in\s+(?P<t>{P}),?\s+(?:replace|change)\s+(?P<old>.+?)\s+(?:with|to|by)\s+(?P<new>.+)$",
        s,
        _FLAGS,
    )
    if m:
        return Edit(clean_path(m.group("t")), unquote(m.group("old")), unquote(m.group("new")))
    w = re.match(
        rf"^(?:edit|update|change|rewrite)\s+(?P<t>{P})\s+(?:so\s+(?:that\s+)?it\s+"
        r"(?:says|reads|contains)|to\s+(?:say|read|contain))\s+(?P<c>.+)$",
        s,
        _FLAGS,
    )
    return Write(clean_path(w.group("t")), content_of(w.group("c"))) if w else None


def _folder(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    verb = r"(?:create|make|add|set\s+up|mkdir)"
    where = rf"(?:\s+(?:in|inside|under|within)\s+{ART}(?:{FOLDER}\s+)?(?P<parent>{P}))?"
    m = (
        re.match(rf"^{verb}\s+{ART}{NEW}{FOLDER}s?\s+{NAMED}(?P<names>.+?){where}$", s, _FLAGS)
        or re.match(rf"^{verb}\s+{ART}{NEW}(?P<names>{P})\s+{FOLDER}{where}$", s, _FLAGS)
        or re.match(r"^mkdir\s+(?:-p\s+)?(?P<names>.+)$", s, _FLAGS)
        or re.match(rf"^(?:create|make)\s+{ART}{NEW}(?P<names>[^\s,;]+/)$", s, _FLAGS)
    )
    if not m:
        return None
    names = _names(m.group("names"))
    parent = m.groupdict().get("parent")
    if parent:
        names = tuple(into(clean_path(parent), n) for n in names)
    return MakeDirs(names)


def _append(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^(?:append|add)\s+(?P<c>.+?)\s+(?:to|onto)\s+(?:the\s+end\s+of\s+)?"
        rf"(?:the\s+file\s+)?(?P<t>{P})$",
        s,
        _FLAGS,
    ) or re.match(rf"^append\s+to\s+(?P<t>{P})\s*:?\s+(?P<c>.+)$", s, _FLAGS)
    return Append(clean_path(m.group("t")), content_of(m.group("c"))) if m else None


_MAKERS = r"(?:create|make|write|save|add|generate|put\s+together)"


def _write(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    file_word = rf"{ART}{NEW}(?:(?:text\s+|markdown\s+)?file\s+{NAMED})?"
    m = re.match(
        rf"^{_MAKERS}\s+{file_word}(?P<t>{P})\s+(?:containing|that\s+contains|with\s+(?:the\s+)?"
        r"(?:content|contents|text|line|words?)|with|that\s+says|saying|which\s+says|reading)"
        r"\s*:?\s+(?P<c>.+)$",
        s,
        _FLAGS,
    )
    if m and (looks_like_file(m.group("t")) or re.search(r"\bfile\b", s[: m.start("t")], re.I)):
        return Write(clean_path(m.group("t")), content_of(m.group("c")))
    e = re.match(rf"^(?:{_MAKERS}|touch)\s+{file_word}(?P<t>{P})$", s, _FLAGS)
    if e and looks_like_file(e.group("t")):
        return Write(clean_path(e.group("t")), "")
    w = re.match(
        r"^(?:write|put|save|store|create|make|generate|compose|draft|produce|type|insert|place"
        r"|record|jot\s+down|output)\s+(?P<c>.+?)\s+(?:to|into|in|as|inside|at|under)\s+"
        rf"(?:{file_word})?(?P<t>{P})$",
        s,
        _FLAGS,
    )
    if w:
        return Write(clean_path(w.group("t")), content_of(w.group("c")))
    g = re.match(r"^(?:write|compose|draft|generate|create|make)\s+(?P<c>.+)$", s, _FLAGS)
    if g and is_generated(g.group("c")):
        text = content_of(g.group("c"))
        files = [p for p in produce if not p.endswith("/")]
        return Write(clean_path(files[0]), text) if len(files) == 1 else Say(text)
    return None


def _question(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    return Answer(s) if s.endswith("?") or _QUESTION.match(s) else None


PARSERS: tuple[Parser, ...] = (
    _sort,
    _index,
    _summarize,
    _list,
    _copy,
    _move,
    _rename,
    _delete,
    _edit,
    _folder,
    _append,
    _write,
    _read,
    _question,
)


def _attach(prev: Op, target: str) -> Op | None:
    """ "...and save it as T": the earlier clause's result goes into T."""
    if isinstance(prev, Summarize) and prev.target is None:
        return Summarize(prev.source, target)
    if isinstance(prev, ListFiles) and prev.target is None:
        return ListFiles(prev.directory, prev.recursive, target)
    if isinstance(prev, Say):
        return Write(target, prev.text)
    if isinstance(prev, ReadFile):
        return Copy(prev.path, target)
    return None


def _remember(op: Op, ctx: Context) -> None:
    if isinstance(op, MakeDirs):
        ctx.last_dir = op.paths[-1]
    elif isinstance(op, ForEach) and op.dest:
        ctx.last_dir = op.dest
    elif isinstance(op, Write | Append | Edit | ReadFile):
        ctx.last_file = op.path
    elif isinstance(op, Move | Copy):
        ctx.last_file = op.dst
    elif isinstance(op, Summarize | Index) and op.target:
        ctx.last_file = op.target


_UNRESOLVED = frozenset({"it", "that", "this", "them", "there", "those", "these"})


def _dangling(op: Op) -> bool:
    """A path that is still a pronoun: "rename it" with nothing named before."""
    paths = [*op.reads(), *op.outputs()]
    return any(part in _UNRESOLVED for p in paths for part in p.lower().strip("/").split("/"))


def parse_clause(clause: str, ctx: Context, produce: tuple[str, ...] = ()) -> Op:
    s = resolve(clause, ctx)
    for parser in PARSERS:
        op = parser(s, ctx, produce)
        if op is not None:
            return Cannot(s) if _dangling(op) else op
    return Cannot(s, asks_for_files=bool(_FILE_VERBS.search(s) or re.search(r"\w\.\w|/", s)))


def parse_request(text: str, produce: tuple[str, ...] = (), ctx: Context | None = None) -> list[Op]:
    """The operations a request asks for, in order."""
    low = text.strip().lower()
    if low.startswith(PLAN_PREFIX):
        goal = text.strip()[len(PLAN_PREFIX) :]
        return [PlanSteps(tuple(op.step() for op in parse_request(goal)))]
    if low.startswith(CHECK_PREFIX):
        goal = text.strip()[len(CHECK_PREFIX) :]
        wanted = [o for op in parse_request(goal) for o in op.outputs()]
        return [Check(tuple(dict.fromkeys(wanted)))]
    ctx = ctx if ctx is not None else Context()
    ops: list[Op] = []
    for clause in clauses(text):
        op = parse_clause(clause, ctx, produce)
        if isinstance(op, Write) and ops and op.content.strip().lower() in PRONOUNS:
            attached = _attach(ops[-1], op.path)
            if attached is not None:
                ops[-1] = op = attached
                _remember(op, ctx)
                continue
        _remember(op, ctx)
        ops.append(op)
    return ops
