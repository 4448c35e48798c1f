"""A summary made from what a file says.

Its most telling sentences, a log's errors and time span, a table's shape and totals.

Extractive on purpose: every word of a summary comes from its source (or
counts it), so it is about the file and never invents a fact. Deterministic:
sentences are ranked by how much of the file's vocabulary they carry, ties
broken by position, and shown in the order the file has them.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter

STOP = frozenset(
    "a an the and or but if then than so of to in on at by for with from into over about as is"
    " are was were be been being it its this that these those there here we you i he she they"
    " them our your their his her my me us not no yes do does did done have has had will would"
    " can could should may might must shall also just very all any each every some more most"
    " other such only own same too up out off again once which who whom what when where why how"
    " after before while during until".split()
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+(?:[.,:]\d+)*")
_STAMP = re.compile(
    r"^\s*\[?(?P<t>\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2})?|\d{1,2}:\d{2}(?::\d{2})?)\]?"
)
_LEVEL = re.compile(r"\b(ERROR|ERR|FATAL|CRITICAL|WARN(?:ING)?|INFO|DEBUG)\b")
DEFAULT_SENTENCES = 3


def _units(text: str) -> list[str]:
    """Sentences, in order; a heading or a bare label is a title, not a sentence."""
    out: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+>]|\d+[.)])\s+", "", raw).strip()
        if not line or line.startswith("#") or set(line) <= set("-=*_ |"):
            continue
        if len(line.split()) <= 3 and not re.search(r"[.!?]$", line):
            continue
        out += [s.strip() for s in _SENTENCE.split(line) if s.strip()]
    return out


def _content_words(sentence: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(sentence) if w.lower() not in STOP]


def best_sentences(text: str, n: int) -> list[str]:
    """The `n` sentences that carry most of the text's content words, in their original order."""
    units = _units(text)
    # Lines with no full stop among sentences that have one are labels ("Weekly
    # sync, 3 May", "Attendees: ..."), not what was said.
    said = [u for u in units if re.search(r"[.!?]$", u)]
    units = said if len(said) >= min(n, len(units)) and said else units
    if not units:
        return []
    freq = Counter(w for u in units for w in _content_words(u))

    def score(i: int) -> float:
        words = _content_words(units[i])
        if not words:
            return 0.0
        # Names and numbers (places, dates, versions) are what a reader looks for.
        specific = sum(1 for w in _WORD.findall(units[i])[1:] if w[:1].isupper() or w[0].isdigit())
        base = sum(freq[w] for w in words) / math.sqrt(len(words))
        return base + 0.5 * specific + 0.5 / (i + 1)

    ranked = sorted(range(len(units)), key=lambda i: (-score(i), i))[:n]
    return [_sentence(units[i]) for i in sorted(ranked)]


def _sentence(text: str) -> str:
    return text if re.search(r"[.!?]$", text) else text + "."


def looks_like_log(path: str, text: str) -> bool:
    """Whether a file is a log (a .log name, or mostly timestamped or levelled lines)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if path.lower().endswith(".log"):
        return bool(lines)
    stamped = sum(1 for ln in lines if _STAMP.match(ln) or _LEVEL.search(ln))
    return len(lines) >= 2 and stamped * 2 > len(lines)


def log_digest(text: str) -> list[str]:
    """A log summed up as a person would.

    How many lines, the span of time, and the counts by level.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    levels = Counter(
        {"ERR": "ERROR", "FATAL": "ERROR", "CRITICAL": "ERROR", "WARNING": "WARN"}.get(
            m.group(1), m.group(1)
        )
        for ln in lines
        if (m := _LEVEL.search(ln))
    )
    stamps = [m.group("t") for ln in lines if (m := _STAMP.match(ln))]
    span = f" from {stamps[0]} to {stamps[-1]}" if len(stamps) > 1 else ""
    counts = ", ".join(f"{levels[k]} {k}" for k in ("ERROR", "WARN", "INFO", "DEBUG") if levels[k])
    out = [f"The log has {len(lines)} entries{span}" + (f" ({counts})." if counts else ".")]
    serious = [
        ln for ln in lines if (m := _LEVEL.search(ln)) and m.group(1) not in ("INFO", "DEBUG")
    ]
    for ln in list(dict.fromkeys(_message(ln) for ln in serious))[:3]:
        out.append(f"- {ln}")
    if not serious and lines:
        out.append(f"- First entry: {_message(lines[0])}")
        out.append(f"- Last entry: {_message(lines[-1])}")
    return out


def _message(line: str) -> str:
    return _STAMP.sub("", line).strip(" -:|")


def table_digest(text: str, delimiter: str) -> list[str] | None:
    """A CSV or TSV summed up by its columns and their ranges, or None when it is not a table."""
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    if len(rows) < 2 or len(rows[0]) < 2:
        return None
    head, body = [h.strip() for h in rows[0]], rows[1:]
    out = [f"{len(body)} rows with the columns {', '.join(head)}."]
    label = head[0]
    for col, name in enumerate(head):
        values = [_number(r[col]) for r in body if col < len(r)]
        nums = [v for v in values if v is not None]
        if col == 0 or len(nums) < max(1, len(body) // 2):
            continue
        top = max(range(len(body)), key=lambda i: _number(body[i][col]) or -math.inf)
        out.append(
            f"- {name}: total {_show(sum(nums))}, from {_show(min(nums))} to {_show(max(nums))}; "
            f"highest for {label} {body[top][0].strip()} ({_show(max(nums))})."
        )
    return out


def _number(cell: str) -> float | None:
    try:
        return float(cell.strip().replace(",", "").lstrip("$€£"))
    except ValueError:
        return None


def _show(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.2f}"


def digest(path: str, text: str, sentences: int | None = None) -> list[str]:
    """The summary's lines: a few sentences, or a log's or a table's figures."""
    if not text.strip():
        return [f"{path} is empty."]
    if sentences is None:
        ext = path.lower().rsplit(".", 1)[-1]
        if ext in ("csv", "tsv") and (table := table_digest(text, "\t" if ext == "tsv" else ",")):
            return table
        if looks_like_log(path, text):
            return log_digest(text)
    picked = best_sentences(text, sentences or DEFAULT_SENTENCES)
    if not picked:
        first = next(ln.strip() for ln in text.splitlines() if ln.strip())
        picked = [_sentence(first.lstrip("#").strip())]
    return [" ".join(picked)]
