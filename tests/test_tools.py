"""Sandboxed file tools: escapes refused, retries idempotent, errors typed."""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path
from typing import Any, get_args

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import agentfleet.sandbox as tools_mod
from activities.tools import ToolActivities
from agentfleet.contracts.models import ToolName, ToolRequest, WorkspaceRequest
from agentfleet.sandbox import (
    READ_LIMIT,
    TOOL_SPECS,
    MakeDirArgs,
    Sandbox,
    SandboxViolation,
    WriteFileArgs,
)
from agentfleet.sandbox import _io as sandbox_io

SECRET = "TOP-SECRET-SENTINEL"


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """tmp/workspaces/ws (the sandbox) next to tmp/outside/secret.txt."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    ws = tmp_path / "workspaces" / "ws"
    ws.mkdir(parents=True)
    (ws / "inside.txt").write_text("hello")
    (ws / "filelink").symlink_to(outside / "secret.txt")
    (ws / "dirlink").symlink_to(outside, target_is_directory=True)
    (ws / "rellink").symlink_to(Path("..") / ".." / "outside" / "secret.txt")
    return {"tmp": tmp_path, "ws": ws, "outside": outside, "root": tmp_path / "workspaces"}


def snapshot_outside(tmp: Path, ws: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under tmp except the workspace: content and mtime."""
    snap: dict[str, tuple[bytes | None, int]] = {}
    for dirpath, dirs, files in os.walk(tmp):
        if Path(dirpath) == ws:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(dirpath) / name
            if p == ws:
                continue
            st = p.lstat()
            data = p.read_bytes() if p.is_file() and not p.is_symlink() else None
            snap[str(p.relative_to(tmp))] = (data, st.st_mtime_ns)
    return snap


async def call(acts: ToolActivities, name: str, ws: str = "ws", **inp: Any) -> Any:
    req = ToolRequest(workspace=ws, name=name, input=inp, call_id="c1")
    return await ActivityEnvironment().run(acts.run_tool, req)


async def call_err(acts: ToolActivities, name: str, ws: str = "ws", **inp: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await call(acts, name, ws, **inp)
    return info.value


# --- escapes -------------------------------------------------------------------

ESCAPES = [
    "../x",
    "/etc/passwd",
    "a/../../x",
    "../../outside/secret.txt",
    "filelink",
    "rellink",
    "dirlink",
    "dirlink/secret.txt",
    "dirlink/new.txt",
    "dirlink/sub/new.txt",
    "",
    "a\x00b",
]


def calls_for(path: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": "pwned"}),
        ("list_files", {"path": path}),
        ("list_files", {"path": path, "recursive": True}),
        ("move_file", {"src": path, "dst": "moved.txt"}),
        ("move_file", {"src": "inside.txt", "dst": path}),
        ("make_dir", {"path": path}),
    ]


@pytest.mark.parametrize("path", ESCAPES)
async def test_escapes_refused_and_nothing_outside_touched(
    layout: dict[str, Path], path: str
) -> None:
    acts = ToolActivities(layout["root"])
    before = snapshot_outside(layout["tmp"], layout["ws"])
    for name, inp in calls_for(path):
        err = await call_err(acts, name, **inp)
        assert err.type == "SandboxViolation", (name, inp, err)
        assert err.non_retryable
        assert str(layout["tmp"]) not in str(err)
        assert SECRET not in str(err)
    assert snapshot_outside(layout["tmp"], layout["ws"]) == before
    # The refused moves left the workspace alone too.
    assert (layout["ws"] / "inside.txt").read_text() == "hello"
    assert not (layout["ws"] / "moved.txt").exists()


@pytest.mark.parametrize("path", ESCAPES)
def test_sandbox_resolve_refuses(layout: dict[str, Path], path: str) -> None:
    with pytest.raises(SandboxViolation) as info:
        Sandbox(layout["ws"]).resolve(path)
    assert str(layout["tmp"]) not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_sandbox_resolve_allows_inside(layout: dict[str, Path]) -> None:
    box = Sandbox(layout["ws"])
    ws = layout["ws"].resolve()
    assert box.resolve(".") == ws
    assert box.resolve("a/b/../c.txt") == ws / "a" / "c.txt"
    assert box.resolve("new/file.txt") == ws / "new" / "file.txt"
    (layout["ws"] / "innerlink").symlink_to("inside.txt")
    assert box.resolve("innerlink") == ws / "inside.txt"


def test_symlink_loop_refused(layout: dict[str, Path]) -> None:
    (layout["ws"] / "loop").symlink_to("loop")
    with pytest.raises(SandboxViolation):
        Sandbox(layout["ws"]).resolve("loop/x")


async def test_listing_never_follows_symlinks(layout: dict[str, Path]) -> None:
    acts = ToolActivities(layout["root"])
    flat = await call(acts, "list_files")
    assert flat.content.splitlines() == ["dirlink", "filelink", "inside.txt", "rellink"]
    deep = await call(acts, "list_files", recursive=True)
    assert deep.content == flat.content
    assert SECRET not in deep.content and "secret" not in deep.content


# --- list format ---------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> ToolActivities:
    ws = tmp_path / "ws"
    for rel in ["b.txt", ".hidden", "a/x.txt", "a/sub/y.txt"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(rel)
    (ws / "empty").mkdir()
    return ToolActivities(tmp_path)


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ({}, ".hidden\na/\nb.txt\nempty/"),
        ({"path": "."}, ".hidden\na/\nb.txt\nempty/"),
        ({"recursive": True}, ".hidden\na/sub/y.txt\na/x.txt\nb.txt"),
        ({"path": "a"}, "a/sub/\na/x.txt"),
        ({"path": "a/"}, "a/sub/\na/x.txt"),
        ({"path": "a", "recursive": True}, "a/sub/y.txt\na/x.txt"),
        ({"path": "a/sub/.."}, "a/sub/\na/x.txt"),
        ({"path": "empty"}, "(empty)"),
        ({"path": "empty", "recursive": True}, "(empty)"),
    ],
)
async def test_list_format(tree: ToolActivities, inp: dict[str, Any], expected: str) -> None:
    res = await call(tree, "list_files", **inp)
    assert res.content == expected
    assert not res.is_error and not res.already_done
    assert res.call_id == "c1" and res.name == "list_files"


async def test_list_errors(tree: ToolActivities) -> None:
    assert (await call_err(tree, "list_files", path="b.txt")).type == "ToolError"
    assert (await call_err(tree, "list_files", path="nope")).type == "ToolError"


# --- read / write ----------------------------------------------------------------


async def test_write_then_read(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    acts = ToolActivities(tmp_path)
    res = await call(acts, "write_file", path="deep/dir/f.txt", content="héllo\n")
    assert res.content == "wrote 7 bytes to deep/dir/f.txt"
    assert not res.already_done
    assert (await call(acts, "read_file", path="deep/dir/f.txt")).content == "héllo\n"
    # No temp files left behind.
    assert sorted(os.listdir(tmp_path / "ws" / "deep" / "dir")) == ["f.txt"]


async def test_write_same_content_is_already_done_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    acts = ToolActivities(tmp_path)
    await call(acts, "write_file", path="f.txt", content="same")
    target = tmp_path / "ws" / "f.txt"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    st = target.stat()
    again = await call(acts, "write_file", path="f.txt", content="same")
    assert again.already_done
    assert again.content.startswith("wrote 4 bytes to f.txt")
    st2 = target.stat()
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    changed = await call(acts, "write_file", path="f.txt", content="different")
    assert not changed.already_done
    assert target.read_text() == "different"


async def test_write_preserves_mode(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    target = tmp_path / "ws" / "run.sh"
    target.write_text("old")
    target.chmod(0o750)
    await call(ToolActivities(tmp_path), "write_file", path="run.sh", content="new")
    assert target.stat().st_mode & 0o777 == 0o750


async def test_write_errors(tmp_path: Path) -> None:
    (tmp_path / "ws" / "d").mkdir(parents=True)
    (tmp_path / "ws" / "file").write_text("x")
    acts = ToolActivities(tmp_path)
    err = await call_err(acts, "write_file", path="d", content="x")
    assert (err.type, err.non_retryable) == ("ToolError", True)
    err = await call_err(acts, "write_file", path="file/child.txt", content="x")
    assert err.type == "ToolError"
    err = await call_err(acts, "write_file", path="big", content="x" * (1024 * 1024 + 1))
    assert err.type == "InvalidToolInput" and "content" in str(err)
    assert (await call(acts, "write_file", path="ok", content="x" * 1024 * 1024)).content


async def test_read_errors(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    (ws / "big").write_bytes(b"x" * (READ_LIMIT + 1))
    (ws / "exact").write_bytes(b"y" * READ_LIMIT)
    (ws / "bin").write_bytes(b"ok\xff")
    os.mkfifo(ws / "fifo")
    acts = ToolActivities(tmp_path)
    for path in ["missing.txt", "d", "big", "fifo"]:
        err = await call_err(acts, "read_file", path=path)
        assert (err.type, err.non_retryable) == ("ToolError", True), path
        assert str(tmp_path) not in str(err)
    assert "256 KiB" in str(await call_err(acts, "read_file", path="big"))
    assert len((await call(acts, "read_file", path="exact")).content) == READ_LIMIT
    assert (await call(acts, "read_file", path="bin")).content == "ok\ufffd"


# --- move / make_dir ---------------------------------------------------------------


async def test_move_and_rerun(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("A")
    acts = ToolActivities(tmp_path)
    res = await call(acts, "move_file", src="a.txt", dst="sub/b.txt")
    assert (res.content, res.already_done) == ("moved a.txt -> sub/b.txt", False)
    assert (ws / "sub" / "b.txt").read_text() == "A" and not (ws / "a.txt").exists()
    again = await call(acts, "move_file", src="a.txt", dst="sub/b.txt")
    assert again.already_done and "already moved" in again.content
    err = await call_err(acts, "move_file", src="gone.txt", dst="also-gone.txt")
    assert (err.type, err.non_retryable) == ("ToolError", True)


async def test_move_directory(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "d" / "e").mkdir(parents=True)
    (ws / "d" / "e" / "f.txt").write_text("F")
    acts = ToolActivities(tmp_path)
    assert not (await call(acts, "move_file", src="d", dst="x/d2")).already_done
    assert (ws / "x" / "d2" / "e" / "f.txt").read_text() == "F"
    err = await call_err(acts, "move_file", src="x", dst="x/d2/inner")
    assert err.type == "ToolError"


async def test_move_refuses_overwrite(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("A")
    (ws / "b.txt").write_text("B")
    (ws / "dir").mkdir()
    acts = ToolActivities(tmp_path)
    for dst in ["b.txt", "dir"]:
        err = await call_err(acts, "move_file", src="a.txt", dst=dst)
        assert (err.type, err.non_retryable) == ("ToolError", True)
    assert (ws / "a.txt").read_text() == "A" and (ws / "b.txt").read_text() == "B"


async def test_move_completes_after_crash_between_link_and_unlink(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("A")
    os.link(ws / "a.txt", ws / "b.txt")
    res = await call(ToolActivities(tmp_path), "move_file", src="a.txt", dst="b.txt")
    assert res.already_done
    assert not (ws / "a.txt").exists() and (ws / "b.txt").read_text() == "A"


async def test_make_dir(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "f").write_text("x")
    acts = ToolActivities(tmp_path)
    first = await call(acts, "make_dir", path="a/b")
    assert (first.content, first.already_done) == ("created a/b", False)
    assert (ws / "a" / "b").is_dir()
    assert (await call(acts, "make_dir", path="a/b")).already_done
    assert (await call_err(acts, "make_dir", path="f")).type == "ToolError"
    assert (await call_err(acts, "make_dir", path="f/g")).type == "ToolError"


# --- input validation and dispatch ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inp", "field"),
    [
        ("write_file", {"path": "f"}, "content"),
        ("write_file", {"content": "x"}, "path"),
        ("read_file", {"path": "f", "bogus": 1}, "bogus"),
        ("list_files", {"recursive": "maybe"}, "recursive"),
        ("move_file", {"src": "a"}, "dst"),
        ("make_dir", {"path": 7}, "path"),
    ],
)
async def test_invalid_input_names_field(
    tmp_path: Path, name: str, inp: dict[str, Any], field: str
) -> None:
    (tmp_path / "ws").mkdir()
    err = await call_err(ToolActivities(tmp_path), name, **inp)
    assert (err.type, err.non_retryable) == ("InvalidToolInput", True)
    assert field in str(err)


async def test_unknown_tool(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    err = await call_err(ToolActivities(tmp_path), "rm_rf", path=".")
    assert (err.type, err.non_retryable) == ("UnknownTool", True)


@pytest.mark.parametrize("ws", ["nope", "../ws", "ws/..", "ws\n", ".."])
async def test_missing_or_bad_workspace(tmp_path: Path, ws: str) -> None:
    (tmp_path / "ws").mkdir()
    err = await call_err(ToolActivities(tmp_path), "list_files", ws=ws)
    assert err.non_retryable
    if ws == "nope":
        assert err.type == "WorkspaceMissing"
        assert err.message == "workspace 'nope' does not exist"
    else:
        assert err.type == "InvalidWorkspace"


async def test_transient_oserror_is_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "f").write_text("x")
    acts = ToolActivities(tmp_path)

    def eio(path: Path) -> int:
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(sandbox_io, "_open_nofollow", eio)
    with pytest.raises(OSError) as info:
        await call(acts, "read_file", path="f")
    assert not isinstance(info.value, ApplicationError)
    assert info.value.errno == errno.EIO
    assert str(tmp_path) not in str(info.value)

    def eacces(path: Path) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(sandbox_io, "_open_nofollow", eacces)
    err = await call_err(acts, "read_file", path="f")
    assert (err.type, err.non_retryable) == ("ToolError", True)
    assert str(tmp_path) not in str(err)


# --- workspaces ---------------------------------------------------------------------


async def test_prepare_workspace(tmp_path: Path) -> None:
    root = tmp_path / "workspaces"
    acts = ToolActivities(root)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as info:
        await env.run(acts.prepare_workspace, WorkspaceRequest(workspace="w1"))
    err = info.value
    assert (err.type, err.non_retryable) == ("WorkspaceMissing", True)
    assert "$AGENTFLEET_HOME/workspaces" in str(err)

    info1 = await env.run(acts.prepare_workspace, WorkspaceRequest(workspace="w1", create=True))
    assert (info1.workspace, info1.files) == ("w1", 0)
    assert Path(info1.path) == (root / "w1").resolve()
    assert (root / "w1").is_dir()
    (root / "w1" / "d").mkdir()
    (root / "w1" / "d" / "a").write_text("a")
    (root / "w1" / "b").write_text("b")
    (root / "w1" / "link").symlink_to(tmp_path)
    again = await env.run(acts.prepare_workspace, WorkspaceRequest(workspace="w1", create=True))
    assert again.files == 2
    existing = await env.run(acts.prepare_workspace, WorkspaceRequest(workspace="w1"))
    assert existing.files == 2

    with pytest.raises(ApplicationError) as info:
        await env.run(acts.prepare_workspace, WorkspaceRequest(workspace="../x", create=True))
    assert info.value.type == "InvalidWorkspace"
    assert not (tmp_path / "x").exists()


# --- specs ---------------------------------------------------------------------------


def test_tool_specs_match_contract() -> None:
    assert [s.name for s in TOOL_SPECS] == list(get_args(ToolName))
    by_name = {s.name: s.input_schema for s in TOOL_SPECS}
    for schema in by_name.values():
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert "title" not in schema
    assert by_name["list_files"].get("required", []) == []
    assert set(by_name["write_file"]["required"]) == {"path", "content"}
    assert set(by_name["move_file"]["required"]) == {"src", "dst"}
    assert by_name["list_files"]["properties"]["recursive"]["type"] == "boolean"


def test_sandbox_methods_directly(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    assert box.write_file(WriteFileArgs(path="x/y", content="z")) == ("wrote 1 bytes to x/y", False)
    assert box.make_dir(MakeDirArgs(path="x")) == ("created x (already existed)", True)


def test_write_refuses_new_files_past_the_workspace_file_limit(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, max_files=3)
    for name in ("a", "b", "c"):
        box.write_file(WriteFileArgs(path=name, content=name))
    with pytest.raises(tools_mod.ToolError, match="file limit of 3"):
        box.write_file(WriteFileArgs(path="d", content="d"))
    # Rewriting an existing file is not a new file.
    assert box.write_file(WriteFileArgs(path="a", content="a2"))[1] is False
    assert not (tmp_path / "d").exists()


async def test_a_reused_tool_use_id_does_not_skip_a_later_call(layout: dict[str, Path]) -> None:
    """Some Anthropic-compatible servers send the same tool-use id on every turn."""
    acts = ToolActivities(layout["root"])

    async def append(activity_id: str, text: str) -> Any:
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, activity_id=activity_id)
        req = ToolRequest(
            workspace="ws",
            name="append_file",
            input={"path": "log.txt", "content": text},
            call_id="call_0",
        )
        return await env.run(acts.run_tool, req)

    first = await append("7", "one\n")
    second = await append("9", "two\n")
    retry = await append("9", "two\n")
    assert not first.already_done and not second.already_done
    assert retry.already_done
    assert (layout["ws"] / "log.txt").read_text() == "one\ntwo\n"
