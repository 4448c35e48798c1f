"""Properties of issue #16's file tools (delete, copy, append, edit, search, stat, read slices).

1. Containment: whatever path a model sends (the hostile paths and symlink plantings of
   test_sandbox_properties), no new tool changes, reveals or names anything outside the
   workspace, and none reaches into the trash.
2. Idempotence: the same call run twice (a retry after a worker crash) leaves the workspace
   as one run leaves it, and the second run says it found the work done.
3. Limits: matches, output bytes, slice sizes and file sizes stay within their bounds.
4. The trash: a deleted file or folder comes back byte for byte, mode included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from agentfleet.sandbox import (
    EDIT_LIMIT,
    READ_LIMIT,
    TRASH,
    AppendFileArgs,
    CopyFileArgs,
    DeleteFileArgs,
    EditFileArgs,
    ListFilesArgs,
    ReadFileArgs,
    Sandbox,
    SandboxViolation,
    SearchFilesArgs,
    StatFileArgs,
    ToolError,
    list_trash,
    restore,
)
from agentfleet.sandbox import search as search_mod
from tests.test_sandbox_properties import (
    OUTSIDE_NAME,
    PROPERTY_SETTINGS,
    SECRET,
    _attempt,
    fresh_tree,
    hostile_paths,
    links,
    plant,
    safe_paths,
    snapshot_outside,
)


def _try(call: Callable[[], tuple[str, bool]]) -> str | None:
    # A refused argument (pydantic's ValidationError) is a refusal like any other.
    try:
        return _attempt(call)
    except ValidationError:
        return None


def _tree_bytes(root: Path) -> dict[str, bytes | None]:
    """Every entry: a file's bytes, a symlink's target (a deleted link is trashed as a link)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = b"-> " + os.fsencode(os.readlink(p))
        else:
            out[rel] = None if p.is_dir() else p.read_bytes()
    return out


def _visible(root: Path) -> dict[str, bytes | None]:
    return {k: v for k, v in _tree_bytes(root).items() if not k.startswith(TRASH)}


# --- 1. containment ---------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(path=hostile_paths(), specs=links)
@example(path="../outside/" + OUTSIDE_NAME, specs=[])
@example(path="l0", specs=[("l0", "../outside")])
@example(path="l0/" + OUTSIDE_NAME, specs=[("l0", "l1"), ("l1", "../outside")])
@example(path=".trash/x", specs=[])
@example(path="dir/../.trash", specs=[])
@example(path="l0/a.txt", specs=[("l0", ".trash")])
@example(path="l3", specs=[("l3", "dir")])
@example(path="l3", specs=[("l3", "dir/deep")])
def test_new_tools_never_reach_outside_or_into_the_trash(
    path: str, specs: list[tuple[str, str]]
) -> None:
    with fresh_tree() as tree:
        plant(tree, specs)
        box = Sandbox(tree.ws, run="prop-run", call_id="c1")
        # Something in the trash already: no path may reveal or change it.
        box.delete_file(DeleteFileArgs(path="dir/a.txt"))
        trash_before = _tree_bytes(tree.ws / TRASH)
        before = snapshot_outside(tree)
        outputs = [
            _try(lambda: box.read_file(ReadFileArgs(path=path, offset=1, limit=5))),
            _try(lambda: box.stat_file(StatFileArgs(path=path))),
            _try(lambda: box.search_files(SearchFilesArgs(path=path, pattern="SECRET"))),
            _try(lambda: box.search_files(SearchFilesArgs(path=".", glob=path))),
            _try(lambda: box.search_files(SearchFilesArgs(path=".", pattern="OUTSIDE|a"))),
            _try(lambda: box.copy_file(CopyFileArgs(src=path, dst="copied-here"))),
            _try(lambda: box.copy_file(CopyFileArgs(src="inside.txt", dst=path))),
            _try(lambda: box.append_file(AppendFileArgs(path=path, content="PWNED"))),
            _try(lambda: box.edit_file(EditFileArgs(path=path, old_string="O", new_string="P"))),
            _try(lambda: box.read_file(ReadFileArgs(path="copied-here"))),
            _try(lambda: box.delete_file(DeleteFileArgs(path=path))),
            _try(lambda: box.list_files(ListFilesArgs(path=".", recursive=True))),
        ]
        assert snapshot_outside(tree) == before, f"{path!r} with {specs} changed what lies outside"
        trash_after = _tree_bytes(tree.ws / TRASH)
        # The trash only grows (a delete adds); nothing in it was changed or taken.
        for rel, data in trash_before.items():
            if not rel.startswith(".calls"):
                assert trash_after.get(rel) == data, (path, rel)
        for out in outputs:
            if out is not None:
                assert SECRET.decode() not in out
                for name in (OUTSIDE_NAME, "nested.txt"):
                    assert name in path or name not in out, out
                assert str(tree.tmp) not in out
                assert TRASH not in out or TRASH in path, out


def test_the_trash_is_unreachable_by_name() -> None:
    with fresh_tree() as tree:
        box = Sandbox(tree.ws, run="r")
        box.delete_file(DeleteFileArgs(path="inside.txt"))
        assert (tree.ws / TRASH / "r" / "inside.txt").read_text() == "inside"
        for bad in [".trash", ".trash/r/inside.txt", "./.trash", "dir/../.trash/r"]:
            for call in (
                lambda bad=bad: box.read_file(ReadFileArgs(path=bad)),
                lambda bad=bad: box.stat_file(StatFileArgs(path=bad)),
                lambda bad=bad: box.delete_file(DeleteFileArgs(path=bad)),
                lambda bad=bad: box.list_files(ListFilesArgs(path=bad)),
                lambda bad=bad: box.copy_file(CopyFileArgs(src="dir/a.txt", dst=bad + "/x")),
            ):
                try:
                    call()
                except SandboxViolation as err:
                    assert "trash" in str(err)
                    continue
                raise AssertionError(f"{bad!r} reached the trash")
        listed, _ = box.list_files(ListFilesArgs(path=".", recursive=True))
        assert TRASH not in listed
        found, _ = box.search_files(SearchFilesArgs(pattern="inside"))
        assert found == "(no matches)"


# --- 2. idempotence under retry ---------------------------------------------------------

_contents = st.binary(max_size=2000)
_texts = st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace").decode("utf-8"))


@PROPERTY_SETTINGS
@given(rel=safe_paths, data=_contents)
@example(rel="a/b.bin", data=b"\x89PNG\r\n\x1a\n\x00\x00")
def test_delete_retried_is_a_noop_and_restores_byte_for_byte(rel: str, data: bytes) -> None:
    with fresh_tree(populated=False) as tree:
        target = tree.ws / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o640)
        box = Sandbox(tree.ws, run="agent-1")
        first = box.delete_file(DeleteFileArgs(path=rel))
        assert first[1] is False and not os.path.lexists(target)
        trash = _tree_bytes(tree.ws / TRASH)
        again = box.delete_file(DeleteFileArgs(path=rel))
        assert again[1] is True and _tree_bytes(tree.ws / TRASH) == trash
        (entry,) = list_trash(tree.ws)
        assert (entry.run, entry.path, entry.size) == ("agent-1", rel, len(data))
        restore(tree.ws, rel)
        assert target.read_bytes() == data
        assert target.stat().st_mode & 0o777 == 0o640
        assert list_trash(tree.ws) == []


def test_delete_folder_restores_whole_tree(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "tmp" / "sub").mkdir(parents=True)
    (ws / "tmp" / "cache.bin").write_bytes(b"\x00\x01\x02")
    (ws / "tmp" / "sub" / "part.txt").write_text("part\n")
    before = _tree_bytes(ws)
    box = Sandbox(ws, run="r1")
    box.delete_file(DeleteFileArgs(path="tmp"))
    assert _visible(ws) == {}
    (entry,) = list_trash(ws)
    assert (entry.path, entry.kind, entry.size) == ("tmp", "dir", 8)
    restore(ws, "tmp")
    assert _tree_bytes(ws) == {**before, TRASH: None}


def test_delete_of_a_symlink_removes_the_link_not_its_target(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "real.txt").write_text("real")
    (ws / "link").symlink_to("real.txt")
    Sandbox(ws, run="r").delete_file(DeleteFileArgs(path="link"))
    assert (ws / "real.txt").read_text() == "real" and not os.path.lexists(ws / "link")


def test_same_path_deleted_twice_keeps_both_versions(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    box = Sandbox(ws, run="r")
    (ws / "a.txt").write_text("one")
    box.delete_file(DeleteFileArgs(path="a.txt"))
    (ws / "a.txt").write_text("two")
    assert box.delete_file(DeleteFileArgs(path="a.txt"))[1] is False
    assert [(e.path, e.version) for e in list_trash(ws)] == [("a.txt", 1), ("a.txt", 2)]
    restore(ws, "a.txt")
    assert (ws / "a.txt").read_text() == "two"
    try:
        restore(ws, "a.txt")
    except Exception as err:  # the older version would overwrite the restored one
        assert "exists" in str(err)
    else:
        raise AssertionError("restore overwrote an existing file")
    restore(ws, "a.txt", to="a-old.txt")
    assert (ws / "a-old.txt").read_text() == "one"


@PROPERTY_SETTINGS
@given(src=safe_paths, dst=safe_paths, data=_contents)
def test_copy_retried_is_a_noop_binary_safe(src: str, dst: str, data: bytes) -> None:
    if dst == src or dst.startswith(src + "/") or src.startswith(dst + "/"):
        return
    with fresh_tree(populated=False) as tree:
        (tree.ws / src).parent.mkdir(parents=True, exist_ok=True)
        (tree.ws / src).write_bytes(data)
        box = Sandbox(tree.ws)
        assert box.copy_file(CopyFileArgs(src=src, dst=dst))[1] is False
        state = _tree_bytes(tree.ws)
        assert box.copy_file(CopyFileArgs(src=src, dst=dst))[1] is True
        assert _tree_bytes(tree.ws) == state
        assert (tree.ws / dst).read_bytes() == data == (tree.ws / src).read_bytes()
        # No temporary file is left beside the copy.
        assert not [p for p in (tree.ws / dst).parent.iterdir() if p.name.endswith(".tmp")]


@PROPERTY_SETTINGS
@given(rel=safe_paths, old=_texts, add=_texts)
def test_append_retried_with_the_same_call_appends_once(rel: str, old: str, add: str) -> None:
    with fresh_tree(populated=False) as tree:
        (tree.ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree.ws / rel).write_bytes(old.encode("utf-8"))
        box = Sandbox(tree.ws, run="agent", call_id="toolu_1")
        box.append_file(AppendFileArgs(path=rel, content=add))
        again = box.append_file(AppendFileArgs(path=rel, content=add))
        assert (tree.ws / rel).read_bytes() == (old + add).encode("utf-8")
        assert again[1] is True or add == ""
        # Another call (another id) is another append.
        Sandbox(tree.ws, run="agent", call_id="toolu_2").append_file(
            AppendFileArgs(path=rel, content=add)
        )
        assert (tree.ws / rel).read_bytes() == (old + add + add).encode("utf-8")


@PROPERTY_SETTINGS
@given(before=_texts, old=_texts.filter(bool), new=_texts, after=_texts, replace_all=st.booleans())
def test_edit_counts_and_a_retry_edits_once(
    before: str, old: str, new: str, after: str, replace_all: bool
) -> None:
    if old == new:
        return
    text = before + old + after
    n = text.count(old)
    with fresh_tree(populated=False) as tree:
        (tree.ws / "f.txt").write_bytes(text.encode("utf-8"))
        box = Sandbox(tree.ws, run="agent", call_id="toolu_9")
        args = EditFileArgs(path="f.txt", old_string=old, new_string=new, replace_all=replace_all)
        if n > 1 and not replace_all:
            try:
                box.edit_file(args)
            except ToolError as err:
                assert f"occurs {n} times" in str(err)
                assert (tree.ws / "f.txt").read_bytes().decode("utf-8") == text
                return
            raise AssertionError("an ambiguous edit went through")
        box.edit_file(args)
        want = text.replace(old, new)
        assert (tree.ws / "f.txt").read_bytes().decode("utf-8") == want
        assert box.edit_file(args)[1] is True
        assert (tree.ws / "f.txt").read_bytes().decode("utf-8") == want


# --- 3. limits --------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    files=st.integers(min_value=1, max_value=30),
    lines=st.integers(min_value=1, max_value=40),
    width=st.integers(min_value=1, max_value=4000),
    regex=st.booleans(),
)
def test_search_results_stay_within_bounds(files: int, lines: int, width: int, regex: bool) -> None:
    with fresh_tree(populated=False) as tree:
        for i in range(files):
            body = "\n".join(f"TODO {j} " + "x" * width for j in range(lines))
            (tree.ws / "src" / f"f{i}.py").parent.mkdir(exist_ok=True)
            (tree.ws / "src" / f"f{i}.py").write_text(body)
        box = Sandbox(tree.ws)
        out, _ = box.search_files(
            SearchFilesArgs(path="src", glob="*.py", pattern="TO+DO" if regex else "TODO")
        )
        hits = [ln for ln in out.splitlines() if not ln.startswith("[")]
        assert len(hits) == min(files * lines, search_mod.MAX_MATCHES, len(hits))
        assert len(hits) <= search_mod.MAX_MATCHES
        assert len(out.encode()) <= search_mod.MAX_OUTPUT + 500
        for hit in hits:
            name, lineno, text = hit.split(":", 2)
            assert name.startswith("src/f") and int(lineno) >= 1
            assert len(text) <= search_mod.MAX_LINE_SHOWN + 4
        if files * lines > search_mod.MAX_MATCHES:
            assert "stopped at" in out or "output cut" in out


def test_catastrophic_regex_is_stopped_not_hung(monkeypatch: object) -> None:
    with fresh_tree(populated=False) as tree:
        (tree.ws / "a.txt").write_text("a" * 40 + "!")
        search_mod.REGEX_SECONDS = 1.0
        try:
            Sandbox(tree.ws).search_files(SearchFilesArgs(pattern="(a+)+$"))
        except ToolError as err:
            assert "simpler pattern" in str(err)
        else:
            raise AssertionError("a catastrophic pattern returned")
        finally:
            search_mod.REGEX_SECONDS = 5.0


@PROPERTY_SETTINGS
@given(
    n=st.integers(min_value=0, max_value=3000),
    offset=st.integers(min_value=1, max_value=3200),
    limit=st.one_of(st.none(), st.integers(min_value=1, max_value=5000)),
)
def test_read_slice_is_the_asked_lines_within_the_byte_limit(
    n: int, offset: int, limit: int | None
) -> None:
    with fresh_tree(populated=False) as tree:
        lines = [f"line {i} " + "y" * 200 for i in range(1, n + 1)]
        (tree.ws / "big.txt").write_text("".join(line + "\n" for line in lines))
        box = Sandbox(tree.ws)
        try:
            out, _ = box.read_file(ReadFileArgs(path="big.txt", offset=offset, limit=limit))
        except ToolError as err:
            assert offset > n and "past the end" in str(err)
            return
        body, _, note = out.partition("\n[lines ")
        got = body.splitlines()
        assert got == lines[offset - 1 : offset - 1 + len(got)]
        assert len(body.encode()) <= READ_LIMIT
        want_end = n if limit is None else min(n, offset - 1 + limit)
        shown_end = offset - 1 + len(got)
        # Everything asked for, unless the next line would have overflowed the byte limit
        # (lines grow from 207 to 211 bytes with their number: the check uses the real one).
        next_line = len(lines[shown_end]) + 1 if shown_end < n else 0
        assert shown_end == want_end or len(body.encode()) + next_line > READ_LIMIT
        # The note says more follows exactly when more lines do.
        assert bool(note) == (shown_end < n)


def test_append_and_edit_refuse_past_the_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_bytes(b"x" * (EDIT_LIMIT - 10))
    box = Sandbox(tmp_path)
    try:
        box.append_file(AppendFileArgs(path="big.log", content="y" * 11))
    except ToolError as err:
        assert "limit" in str(err)
    else:
        raise AssertionError("append grew a file past the limit")
    assert (tmp_path / "big.log").stat().st_size == EDIT_LIMIT - 10


def test_copy_refuses_new_files_past_the_workspace_file_limit(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, max_files=2)
    (tmp_path / "a").write_text("a")
    box.copy_file(CopyFileArgs(src="a", dst="b"))
    try:
        box.copy_file(CopyFileArgs(src="a", dst="c"))
    except ToolError as err:
        assert "file limit of 2" in str(err)
    else:
        raise AssertionError("copy went past the file limit")
    assert not (tmp_path / "c").exists()
