"""Complexity scoring: how much work a (sub)task is, before anyone spends tokens on it.

The scorer runs inside Temporal workflow code, so it must be a pure function of
its input: no clocks, randomness, environment or I/O, and no iteration over
unordered sets leaking into the output (set order changes with the hash seed,
which would make a replay diverge). It only looks at surface features of the
text and the declared inputs; it is a cheap triage, not an oracle, and every
point it adds or removes is written into `rationale` so a surprising tier can
be explained from the result alone.

Weights and cut points are versioned through `Thresholds.version`: a recorded
score names the thresholds it was cut with, so a later retune never silently
reinterprets old history. Changing a weight or a lexicon below is a retune
too: bump the default version with it.

The v1 weights were set on general features against tests/data/tasks.jsonl
(labelled first, tuned after); the test suite holds them to >= 85% agreement.
"""

from __future__ import annotations

import itertools
import re

from pydantic import Field, field_validator, model_validator

from agentfleet.contracts.models import TIERS as TIERS  # re-exported: tiers are a payload contract
from agentfleet.contracts.models import FrozenContract, FrozenRecord, Subtask
from agentfleet.contracts.models import Tier as Tier

# Sizes assumed for inputs whose size is unknown; they only feed the context
# estimate, never the score, so a guess cannot push a task into another tier.
ASSUMED_FILE_BYTES = 4_000
ASSUMED_FILES_PER_DIR = 5

# Declared input sizes, in estimated tokens (bytes / 4), and what they add:
# inputs this large crowd one context window, which argues for a bigger model
# or a split even when the instructions are short.
_SIZE_BANDS: tuple[tuple[int, float], ...] = ((128_000, 0.30), (32_000, 0.20), (8_000, 0.10))


class FileRef(FrozenContract):
    """An input file or folder the scorer sees; its size, when known, feeds the context estimate."""

    path: str = Field(min_length=1, max_length=1000)
    size_bytes: int | None = Field(default=None, ge=0)

    @property
    def is_dir(self) -> bool:
        """A folder (or a glob): it stands for an unknown number of files."""
        return self.path.endswith("/") or "*" in self.path


class SubtaskSpec(FrozenContract):
    """What the scorer sees. `files` accepts plain paths for convenience."""

    description: str = Field(max_length=20_000)
    files: list[FileRef] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    parent_context: str = Field(default="", max_length=100_000)
    depth: int = Field(default=0, ge=0, le=32)

    @field_validator("description")
    @classmethod
    def _description_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("description must not be empty")
        return v

    @field_validator("files", mode="before")
    @classmethod
    def _coerce_paths(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"path": item} if isinstance(item, str) else item for item in v]
        return v


class Thresholds(FrozenContract):
    """Cut points: a score at or above `complex` is complex, and so on down."""

    version: str = Field(default="v1", min_length=1)
    simple: float = 0.15
    moderate: float = 0.35
    complex: float = 0.65

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not 0.0 < self.simple < self.moderate < self.complex < 1.0:
            raise ValueError(
                "thresholds must satisfy 0 < simple < moderate < complex < 1, got "
                f"{self.simple}, {self.moderate}, {self.complex}"
            )
        return self

    def tier(self, score: float) -> Tier:
        """The tier `score` falls in: the highest cut point it reaches."""
        if score >= self.complex:
            return "complex"
        if score >= self.moderate:
            return "moderate"
        if score >= self.simple:
            return "simple"
        return "trivial"


DEFAULT_THRESHOLDS = Thresholds()


class ComplexityScore(FrozenRecord):
    """The scorer's verdict: score, tier, estimates, and every point's reason."""

    score: float = Field(ge=0.0, le=1.0)
    tier: Tier
    est_context_tokens: int = Field(ge=0)
    est_steps: int = Field(ge=0)
    rationale: list[str] = Field(default_factory=list)
    thresholds_version: str


# --- lexicons -------------------------------------------------------------------
# Verbs whose work changes the workspace: they need write/move tools.
_MUTATING_VERBS = frozenset(
    """
    add aggregate annotate append apply archive arrange back backup build bump categorize
    change classify clean collect combine compile compress consolidate convert copy correct
    create de-duplicate dedupe deduplicate delete deploy document draft drop edit enrich
    export fill fix flatten format generate group implement import impute index install
    label link lock log lowercase make merge migrate modify move normalise normalize
    organise organize pack patch port produce publish rank redact refactor reformat
    remove rename render reorder reorganize replace resize restructure rewrite sanitize
    save set sort split standardise standardize structure tag tidy transform trim turn
    unify unzip update upgrade upload write zip
    """.split()
)

# Verbs that start a unit of work. Matched at the start of a clause only, so a
# noun use ("a report", "the test") elsewhere in a sentence does not count.
_ACTION_VERBS = _MUTATING_VERBS | frozenset(
    """
    analyse analyze assess audit benchmark calculate check compare compute count debug
    decide define describe detect diagnose estimate evaluate explain expose extract fetch
    filter find gather go identify inspect investigate list load locate map mark match
    measure monitor optimize outline parse plan point prepare prioritize profile pull
    quantify read recommend reconcile reproduce report research resolve review run scan
    search select separate sketch summarise summarize test track translate troubleshoot
    validate verify
    """.split()
)

# Words that signal judgement, synthesis or cross-file reasoning rather than a
# mechanical step; the reason a capable model (and maybe a split) is worth it.
_HEAVY_WORDS = frozenset(
    """
    analyse analysis analyze architecture assess audit benchmark codebase compare
    comparison debug design diagnose evaluate findings implement investigate literature
    migrate optimize pipeline prioritize profile quantify recommend recommendation
    reconcile refactor report repository research review security themes trade-offs
    tradeoffs troubleshoot
    """.split()
)

# Words that widen the scope from "this file" to "everything of a kind".
_BREADTH_WORDS = frozenset(
    "across all complete each entire every nested per recursive whole".split()
)

# Nouns that make "every"/"all" range over many files rather than over the
# lines of one file ("every tab in export.txt" is still one file).
_SCOPE_NOUNS = frozenset(
    "codebase directories drive files folders modules project repo repository".split()
)

_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "dozen": 12,
    "twenty": 20,
}

# Leading verbs of a one-shot answer or a single mechanical step.
_LIGHT_LEADS = frozenset(
    """
    answer convert count define explain give lookup name print rename show suggest
    tell translate trim
    """.split()
)

# Verbs that only shuffle files around without reading them.
_FS_VERBS = frozenset("copy delete list move print rename show".split())
# Verbs that are file-system steps unless they name a file to fill in.
_FS_UNLESS_FILE = frozenset("create make".split())

_MUTATING_TOOLS = frozenset({"write_file", "move_file", "make_dir"})
_CONTENT_TOOLS = frozenset({"read_file", "write_file"})

# Leads that make a sentence a question even without "?". Modal leads ("can
# you", "could you") are left out: they usually open a polite request for work.
_QUESTION_LEADS = frozenset("are does how is what when where which who why".split())

_CLAUSE_FILLERS = frozenset("also and finally first next or then".split())

_CLAUSE_SPLIT = re.compile(r"[,;:\n]|\.\s|\band\b|\bthen\b|^\s*(?:\d+[.)]|[-*])\s", re.M)
_PARENS = re.compile(r"\([^()]*\)")
_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")
_EXT_FILE = re.compile(r"^[\w.*-]*\.[a-z][a-z0-9]{0,5}$", re.I)
_NOT_PATHS = frozenset({"e.g", "i.e", "etc", "vs"})
_TOKEN_STRIP = "()[]{}<>'\"`,;:!?"


def _base_form(word: str, lexicon: frozenset[str]) -> str | None:
    """The lexicon entry that `word` is a regular inflection of, if any."""
    if word in lexicon:
        return word
    for suffix in ("ing", "ed", "es", "s", "d"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            for candidate in (stem, stem + "e"):
                if candidate in lexicon:
                    return candidate
    return None


def _paths_in(text: str) -> list[str]:
    found: list[str] = []
    for raw in text.split():
        token = raw.strip(_TOKEN_STRIP).rstrip(".")
        if not token or token.lower() in _NOT_PATHS or token.startswith("--"):
            continue
        has_letter = any(c.isalpha() for c in token)
        if ("/" in token and has_letter and "://" not in token) or _EXT_FILE.match(token):
            found.append(token)
    return found


def _is_dir_path(path: str) -> bool:
    if path.endswith("/") or "*" in path:
        return True
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "/" in path and "." not in last


def _clauses(text: str) -> list[list[str]]:
    """Word lists of the clauses of `text`, fillers dropped.

    Parenthesised asides are removed first: "(images, documents, other)" is an
    enumeration of values, not three more pieces of work.
    """
    flat = _PARENS.sub(" ", text.lower())
    out: list[list[str]] = []
    for clause in _CLAUSE_SPLIT.split(flat):
        words = [w for w in _WORD.findall(clause) if w not in _CLAUSE_FILLERS]
        if words:
            out.append(words)
    return out


def _counted_items(words: list[str]) -> list[str]:
    """Phrases like "three papers" or "40 transcripts": an explicit multiplicity.

    Numbers of 1000 and above are years, sizes or standards ("ISO 8601"), not
    counts of things to work on.
    """
    out: list[str] = []
    for number, noun in itertools.pairwise(words):
        n = _NUMBER_WORDS.get(number)
        if n is None and number.isdigit():
            n = int(number)
        if n is not None and 2 <= n < 1000 and noun.isalpha():
            out.append(f"{number} {noun}")
    return out


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _actions(clauses: list[list[str]]) -> list[str]:
    """Base forms of the verbs that open `clauses`, in order: the units of work asked for."""
    return [v for v in (_base_form(c[0], _ACTION_VERBS) for c in clauses) if v is not None]


class _Reading:
    """What the scorer reads off a task once, for every feature and estimate to share."""

    def __init__(self, spec: SubtaskSpec) -> None:
        self.spec = spec
        self.text = spec.description.strip()
        self.words = _WORD.findall(self.text.lower())
        clauses = _clauses(self.text)
        self.actions = _actions(clauses)
        # A "part" is any clause of two words or more: deliverables are often
        # listed as nouns ("a glossary, a setup script and a checklist"). One-word
        # list items ("items, suppliers and orders") weigh less: they are often
        # values, not work.
        self.parts = sum(1 for c in clauses if len(c) >= 2)
        self.items = sum(1 for c in clauses if len(c) == 1)
        text_paths = _paths_in(self.text)
        self.all_paths = sorted({p.strip() for p in text_paths} | {f.path for f in spec.files})
        declared_dirs = {f.path for f in spec.files if f.is_dir}
        self.dirs = [p for p in self.all_paths if p in declared_dirs or _is_dir_path(p)]
        self.n_dirs = len(self.dirs)
        self.n_files = len(self.all_paths) - self.n_dirs
        self.lead = self.words[0] if self.words else ""
        fs_lead = _base_form(self.lead, _FS_VERBS) is not None or (
            _base_form(self.lead, _FS_UNLESS_FILE) is not None and self.n_files == 0
        )
        self.fs_only = fs_lead and len(self.actions) <= 1
        self.breadth = sorted({w for w in self.words if w in _BREADTH_WORDS})
        self.declared_tools = sorted(set(spec.tools))
        self.mutating_actions = sum(1 for a in self.actions if a in _MUTATING_VERBS)
        self.mutating = self.mutating_actions > 0 or any(
            t in _MUTATING_TOOLS for t in self.declared_tools
        )
        self.known_bytes = sum(f.size_bytes for f in spec.files if f.size_bytes is not None)


# A feature's verdict on a task: the points it adds (or removes) and why, or None.
_Points = tuple[float, str] | None


def _length(r: _Reading) -> _Points:
    """Length is the most reliable single proxy: every part of a multi-part job is spelled out."""
    return 0.011 * min(len(r.words), 40), f"{len(r.words)} words"


def _parts(r: _Reading) -> _Points:
    """More than one action or deliverable: each is a step of its own."""
    extra_actions = max(len(r.actions) - 1, 0)
    extra_parts = max(r.parts - 1 - extra_actions, 0)
    if not (extra_actions or extra_parts or r.items):
        return None
    return (
        min(0.05 * extra_actions + 0.03 * extra_parts + 0.015 * r.items, 0.33),
        f"{len(r.actions)} actions ({', '.join(sorted(set(r.actions))) or 'none'}), "
        f"{r.parts} parts, {r.items} list items",
    )


def _paths(r: _Reading) -> _Points:
    """Named files and folders; a folder stands for an unknown number of files, so weighs more."""
    if not r.all_paths:
        return None
    return min(0.03 * r.n_files + 0.06 * r.n_dirs, 0.18), f"{r.n_files} files, {r.n_dirs} dirs"


def _file_contents(r: _Reading) -> _Points:
    """Reading or writing inside a file is a tool loop, which one inline reply cannot do.

    Moving a file around is a single call, so a file-system-only step does not count.
    """
    if (r.n_files or r.n_dirs) and not r.fs_only:
        return 0.08, "works on file contents"
    return None


def _analysis(r: _Reading) -> _Points:
    """Words of judgement or synthesis: the reason a capable model (and maybe a split) pays."""
    heavy = sorted({w for w in r.words if w in _HEAVY_WORDS})
    if not heavy:
        return None
    return min(0.06 * len(heavy), 0.24), f"analysis keywords: {', '.join(heavy)}"


def _counted(r: _Reading) -> _Points:
    """An explicit multiplicity ("three papers"): that many units of work."""
    counted = _counted_items(r.words)
    if not counted:
        return None
    return min(0.04 * len(counted), 0.08), f"counted items: {', '.join(counted)}"


def _breadth(r: _Reading) -> _Points:
    """Scope widened from one file to everything of a kind ("every folder")."""
    if r.breadth and (r.n_dirs or any(w in _SCOPE_NOUNS for w in r.words)):
        return min(0.03 * len(r.breadth), 0.06), f"breadth: {', '.join(r.breadth)}"
    return None


def _lightness(r: _Reading) -> _Points:
    """A question, or a single light step: less work than its words suggest."""
    if r.text.endswith("?") or r.lead in _QUESTION_LEADS:
        return -0.12, "phrased as a question"
    light_lead = r.fs_only or _base_form(r.lead, _LIGHT_LEADS) is not None
    if len(r.actions) <= 1 and not r.breadth and light_lead:
        return -0.06, f"single light step ({r.lead})"
    return None


def _tools(r: _Reading) -> _Points:
    """The tools a planner declared; asking for file contents with no path named still reads."""
    if not r.declared_tools:
        return None
    reads_contents = any(t in _CONTENT_TOOLS for t in r.declared_tools)
    points = min(0.02 * (len(r.declared_tools) - 1), 0.06)
    if reads_contents and not r.all_paths:
        # The planner says it needs file contents even if no path is named.
        points += 0.08
    return points, f"tools: {', '.join(r.declared_tools)}"


def _input_size(r: _Reading) -> _Points:
    """Declared inputs large enough to crowd one context window."""
    known_tokens = (r.known_bytes + 3) // 4
    for band, points in _SIZE_BANDS:
        if known_tokens >= band:
            return points, f"inputs ~{known_tokens} tokens"
    return None


def _depth(r: _Reading) -> _Points:
    """A subtask a planner already carved out: biased away from being split again.

    Splitting what was just split is the usual way trees over-decompose.
    """
    if r.spec.depth > 0:
        return -min(0.05 * r.spec.depth, 0.15), f"depth {r.spec.depth}"
    return None


# In the order their points are added: the rationale lists them so.
_FEATURES = (
    _length,
    _parts,
    _paths,
    _file_contents,
    _analysis,
    _counted,
    _breadth,
    _lightness,
    _tools,
    _input_size,
    _depth,
)


def _context_tokens(r: _Reading) -> int:
    """Instructions plus every input at ~4 chars a token.

    Unknown sizes are guessed here only, never in the score.
    """
    sized = {f.path for f in r.spec.files if f.size_bytes is not None}
    guessed_bytes = sum(
        ASSUMED_FILE_BYTES * (ASSUMED_FILES_PER_DIR if p in r.dirs else 1)
        for p in r.all_paths
        if p not in sized
    )
    chars = len(r.text) + len(r.spec.parent_context) + r.known_bytes + guessed_bytes
    return (chars + 3) // 4


def _steps(r: _Reading) -> int:
    """Expected tool calls.

    A listing per directory, a read per file in scope unless the job only moves
    things around, and a write per changing step (or per file, when one move or
    rename sweeps a whole directory).
    """
    in_scope = r.n_files + ASSUMED_FILES_PER_DIR * r.n_dirs
    reads = 0 if r.fs_only else in_scope
    if not r.mutating:
        writes = 0
    elif r.fs_only and r.breadth:
        writes = in_scope
    else:
        writes = max(r.mutating_actions, 1)
    return r.n_dirs + reads + writes


def score(spec: SubtaskSpec, thresholds: Thresholds | None = None) -> ComplexityScore:
    """Score `spec` in [0, 1] and cut it into a tier. Pure and deterministic.

    Each feature adds its points in a fixed order and says why in `rationale`.
    """
    if not spec.description.strip():
        # model_construct() skips validation; a blank task must still fail clearly.
        raise ValueError("description must not be empty")
    th = thresholds or DEFAULT_THRESHOLDS
    reading = _Reading(spec)
    total = 0.0
    why: list[str] = []
    for feature in _FEATURES:
        found = feature(reading)
        if found is not None:
            points, reason = found
            total += points
            why.append(f"{reason} ({points:+.2f})")
    value = round(_clamp(total, 0.0, 1.0), 4)
    return ComplexityScore(
        score=value,
        tier=th.tier(value),
        est_context_tokens=_context_tokens(reading),
        est_steps=_steps(reading),
        rationale=why,
        thresholds_version=th.version,
    )


def actions_in(text: str) -> list[str]:
    """Base forms of the verbs that open the clauses of `text`, in order.

    The guard reads them to tell a pure planning step from one that also works.
    """
    return _actions(_clauses(text))


def spec_for(subtask: Subtask, parent_context: str = "", depth: int = 0) -> SubtaskSpec:
    """The scorer's view of a planned subtask.

    The title is a label; the description carries the work, so only it is scored.
    """
    return SubtaskSpec(
        description=subtask.description,
        files=[FileRef(path=f) for f in subtask.files],
        tools=list(subtask.tools),
        parent_context=parent_context,
        depth=depth,
    )


def score_text(text: str, thresholds: Thresholds | None = None) -> ComplexityScore:
    """Score a bare task string (what the CLI and the master's goal look like)."""
    if not text.strip():
        raise ValueError("description must not be empty")
    return score(SubtaskSpec(description=text), thresholds)
