"""The labelled goals of bench/reality.py and the checks of their end state.

Each goal (bench/data/reality_goals.jsonl) carries a seed (files and folders written into
its workspace before the run) and an `expect` block that names the end state a person who
typed the goal would accept. `check()` reads the real workspace after the run and returns
every mismatch; an empty list means the end state is right. No run result is consulted
except the final answer of answer-only goals, so a run cannot pass by saying it did well.

Checks are exact where the goal is exact ("Write hello into a.txt": the file holds `hello`,
surrounding whitespace aside) and tolerant where a real model would vary (a haiku is three
non-empty lines; a summary mentions something from its source; "sort by type" accepts any
folder names as long as each type lands in one folder of its own). Seeded files that the
goal does not name must survive unchanged, so collateral damage counts as a wrong end state.

The keys of `expect`, all optional:

* `files`: {path: rules}: a regular file, its text meeting every rule (see RULES).
* `dirs`: {path: {"empty": bool}}: a folder (dotfiles like .gitkeep do not make it non-empty).
* `absent`: [path]: gone (moved or deleted).
* `sorted`: [path]: each seeded file moved out of its folder into a folder shared only with
  files of its own extension, its content intact.
* `new_files`: [rules]: each met by some file the seed did not have (an output the goal
  asks for without naming it, e.g. "write an index of everything").
* `unchanged`: true: nothing added, removed or changed, and the run gave an answer.
* `answer`: rules (as for a file) on the final answer of an answer-only goal: what any
  right answer says ("3" files, "30 April"), so a guess or a "let me look" is no answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

GOALS_FILE = Path(__file__).resolve().parent / "data" / "reality_goals.jsonl"

EXPECT_KEYS = frozenset({"files", "dirs", "absent", "sorted", "new_files", "unchanged", "answer"})
RULES = frozenset(
    {"equals", "lines_equal", "contains", "contains_any", "excludes", "lines", "empty", "same_as"}
)
DIR_RULES = frozenset({"empty"})
GOAL_KEYS = frozenset({"id", "category", "goal", "seed", "expect", "needs"})


@dataclass(frozen=True)
class Goal:
    id: str
    category: str
    goal: str
    expect: dict[str, Any]
    # path -> text; a path ending in "/" is a folder.
    seed: dict[str, str] = field(default_factory=dict)
    # File tools of issue #16 the goal cannot be done without (copy_file, delete_file, ...).
    needs: tuple[str, ...] = ()


def _validate(row: dict[str, Any], where: str) -> None:
    # A misspelt key would silently drop a check, and a check that cannot fail is a defect.
    unknown = set(row) - GOAL_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown goal keys {sorted(unknown)}")
    expect = row.get("expect") or {}
    if not expect:
        raise ValueError(f"{where}: no expected end state")
    if set(expect) - EXPECT_KEYS:
        raise ValueError(f"{where}: unknown expect keys {sorted(set(expect) - EXPECT_KEYS)}")
    rule_sets = [
        *expect.get("files", {}).values(),
        *expect.get("new_files", []),
        *([expect["answer"]] if "answer" in expect else []),
    ]
    for rules in rule_sets:
        if set(rules) - RULES:
            raise ValueError(f"{where}: unknown content rules {sorted(set(rules) - RULES)}")
    for rules in expect.get("dirs", {}).values():
        if set(rules) - DIR_RULES:
            raise ValueError(f"{where}: unknown folder rules {sorted(set(rules) - DIR_RULES)}")
    seed = row.get("seed", {})
    for rules in expect.get("files", {}).values():
        src = rules.get("same_as")
        if src is not None and src not in seed:
            raise ValueError(f"{where}: same_as {src!r} is not seeded")
    for path in expect.get("sorted", []):
        if path not in seed:
            raise ValueError(f"{where}: sorted {path!r} is not seeded")


def load_goals(path: Path = GOALS_FILE) -> list[Goal]:
    goals: list[Goal] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        where = f"{path.name}:{lineno}"
        _validate(row, where)
        if row["id"] in seen:
            raise ValueError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        # _validate lets through only Goal's own keys, so the row is the goal; its seed is
        # copied and its needs (a JSON list) become the field's tuple.
        seed, needs = dict(row.get("seed", {})), tuple(row.get("needs", ()))
        goals.append(Goal(**{**row, "seed": seed, "needs": needs}))
    return goals


def seed_workspace(root: Path, goal: Goal) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in goal.seed.items():
        target = root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# --- reading the workspace ------------------------------------------------------------------


def _ignored(rel: PurePosixPath) -> bool:
    # A hidden top-level folder is bookkeeping (a trash for deletes), not the user's tree.
    return len(rel.parts) > 1 and rel.parts[0].startswith(".")


def snapshot(root: Path) -> dict[str, str | None]:
    """Every path under `root` (posix, relative) -> its text, or None for a folder."""
    out: dict[str, str | None] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if _ignored(rel) or (len(rel.parts) == 1 and path.is_dir() and rel.name.startswith(".")):
            continue
        out[str(rel)] = (
            None if path.is_dir() else path.read_bytes().decode("utf-8", errors="replace")
        )
    return out


def _norm(text: str) -> str:
    # Line endings and surrounding whitespace are how a model formats, not what it wrote.
    return text.replace("\r\n", "\n").strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in _norm(text).split("\n") if line.strip()]


def seed_files(goal: Goal) -> dict[str, str]:
    return {p: t for p, t in goal.seed.items() if not p.endswith("/")}


# --- rules ----------------------------------------------------------------------------------


def content_mismatches(label: str, text: str, rules: dict[str, Any], goal: Goal) -> Iterator[str]:
    low = text.lower()
    if "equals" in rules and _norm(text) != _norm(rules["equals"]):
        yield f"{label}: holds {_short(text)}, want {rules['equals']!r}"
    if "lines_equal" in rules and _lines(text) != list(rules["lines_equal"]):
        yield f"{label}: lines {_lines(text)!r}, want {rules['lines_equal']!r}"
    for word in rules.get("contains", ()):
        if word.lower() not in low:
            yield f"{label}: does not mention {word!r}"
    anyof = rules.get("contains_any")
    if anyof and not any(w.lower() in low for w in anyof):
        yield f"{label}: mentions none of {anyof!r}"
    for word in rules.get("excludes", ()):
        if word.lower() in low:
            yield f"{label}: should not mention {word!r}"
    if "lines" in rules:
        lo, hi = rules["lines"]
        n = len(_lines(text))
        if not lo <= n <= hi:
            yield f"{label}: {n} non-empty lines, want {lo}..{hi}"
    if rules.get("empty") and _norm(text):
        yield f"{label}: should be empty, holds {_short(text)}"
    if not rules.get("empty") and not _norm(text):
        yield f"{label}: is empty"
    src = rules.get("same_as")
    if src is not None and _norm(text) != _norm(goal.seed[src]):
        yield f"{label}: holds {_short(text)}, want the content of {src}"


def _short(text: str, limit: int = 40) -> str:
    flat = _norm(text)
    return repr(flat if len(flat) <= limit else flat[:limit] + "…")


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _sorted_mismatches(paths: list[str], snap: dict[str, str | None], goal: Goal) -> list[str]:
    out: list[str] = []
    folder_of: dict[str, str] = {}
    for src in paths:
        if src in snap:
            out.append(f"{src}: still in place, not sorted")
            continue
        name = PurePosixPath(src).name
        want = _norm(goal.seed[src])
        found = [
            p
            for p, text in snap.items()
            if text is not None and PurePosixPath(p).name == name and _norm(text) == want
        ]
        if len(found) != 1:
            out.append(f"{src}: found {len(found)} sorted copies of it, want 1")
            continue
        folder_of[src] = str(PurePosixPath(found[0]).parent)
    by_ext: dict[str, set[str]] = {}
    for src, folder in folder_of.items():
        by_ext.setdefault(PurePosixPath(src).suffix.lower(), set()).add(folder)
    for ext, folders in sorted(by_ext.items()):
        if len(folders) > 1:
            out.append(f"{ext} files split over {sorted(folders)}")
    if len(by_ext) > 1 and len(set(folder_of.values())) < 2:
        out.append(f"all types in one folder {sorted(set(folder_of.values()))}")
    return out


def check(root: Path, goal: Goal, answer: str | None = None) -> list[str]:
    """The end state's mismatches against `goal` (empty: correct). `answer` is the run's
    final output, which only answer-only goals (`unchanged`) look at."""
    snap = snapshot(root)
    exp = goal.expect
    out: list[str] = []
    for rel, rules in exp.get("files", {}).items():
        if rel not in snap:
            out.append(f"{rel}: missing")
        elif snap[rel] is None:
            out.append(f"{rel}: is a folder, want a file")
        else:
            out.extend(content_mismatches(rel, snap[rel] or "", rules, goal))
    for rel, rules in exp.get("dirs", {}).items():
        if rel not in snap:
            out.append(f"{rel}/: missing")
        elif snap[rel] is not None:
            out.append(f"{rel}/: is a file, want a folder")
        elif rules.get("empty"):
            inside = [
                p
                for p in snap
                if p.startswith(rel + "/") and not PurePosixPath(p).name.startswith(".")
            ]
            if inside:
                out.append(f"{rel}/: should be empty, holds {inside[:3]}")
    absent = list(exp.get("absent", []))
    out.extend(f"{rel}: still exists" for rel in absent if rel in snap)
    out.extend(_sorted_mismatches(list(exp.get("sorted", [])), snap, goal))
    new = {p: t for p, t in snap.items() if t is not None and p not in goal.seed}
    for rules in exp.get("new_files", []):
        if not any(not list(content_mismatches(p, t, rules, goal)) for p, t in new.items()):
            out.append(f"no new file meets {json.dumps(rules)} ({len(new)} new files)")
    if exp.get("unchanged"):
        out.extend(_unchanged_mismatches(snap, goal))
        if not (answer or "").strip():
            out.append("no answer given")
    if "answer" in exp:
        out.extend(content_mismatches("answer", answer or "", exp["answer"], goal))
    out.extend(_collateral(snap, goal, absent))
    return out


def _unchanged_mismatches(snap: dict[str, str | None], goal: Goal) -> list[str]:
    want = {p.rstrip("/"): (None if p.endswith("/") else t) for p, t in goal.seed.items()}
    # Seeded files imply their folders.
    for p in list(want):
        for parent in PurePosixPath(p).parents:
            if str(parent) != ".":
                want.setdefault(str(parent), None)
    added = sorted(set(snap) - set(want))
    return [f"added {added[:5]} to a workspace that should be unchanged"] if added else []


def _collateral(snap: dict[str, str | None], goal: Goal, absent: list[str]) -> list[str]:
    """Seeded paths the goal does not name must survive as they were."""
    exp = goal.expect
    named = [*exp.get("files", {}), *exp.get("sorted", [])]
    out: list[str] = []
    for rel, text in goal.seed.items():
        path = rel.rstrip("/")
        if path in named or _under(path, absent):
            continue
        if path not in snap:
            out.append(f"{path}: seeded, now gone")
        elif rel.endswith("/"):
            if snap[path] is not None:
                out.append(f"{path}/: seeded folder is now a file")
        elif snap[path] is None or _norm(snap[path] or "") != _norm(text):
            out.append(f"{path}: seeded, now changed to {_short(snap[path] or '')}")
    return out
