"""Properties of the file sandbox (agentfleet/sandbox/), over generated paths.

1. Containment: whatever path a model sends (dot segments, absolute paths, URL-encoded or
   backslash separators, NUL, over-long or odd Unicode names, walks through symlink chains
   that lead in and out of the workspace), no tool reads, lists, writes, creates or moves
   anything outside the workspace: the tree around it stays byte-identical, nothing new
   appears there, and no tool output quotes what lies outside.
2. Usability: every path made of ordinary segments inside the workspace is allowed, and a
   write there reads back exactly.

Each example gets a fresh tree, so one example's writes and moves cannot hide another's.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agentfleet.sandbox import (
    ListFilesArgs,
    MakeDirArgs,
    MoveFileArgs,
    ReadFileArgs,
    Sandbox,
    SandboxViolation,
    ToolError,
    WriteFileArgs,
)

SECRET = b"OUTSIDE-SECRET-d41d8cd9"
OUTSIDE_NAME = "outside-only-name.txt"
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- the tree around the workspace ------------------------------------------------------


@dataclass
class Tree:
    tmp: Path
    ws: Path

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(self.ws)


def _build(tmp: Path, populated: bool = True) -> Tree:
    """tmp/{outside, ws-evil, ws}: the sandbox is ws; the rest must never change.

    `ws-evil` shares the workspace's name as a prefix: a containment check done on strings
    (startswith) instead of path components would let `../ws-evil` through.
    """
    for sentinel in ("outside", "ws-evil"):
        d = tmp / sentinel
        (d / "sub").mkdir(parents=True)
        (d / OUTSIDE_NAME).write_bytes(SECRET)
        (d / "sub" / "nested.txt").write_bytes(SECRET + b" nested")
    (tmp / "top-secret.txt").write_bytes(SECRET)
    ws = tmp / "ws"
    ws.mkdir()
    if populated:
        (ws / "dir" / "deep").mkdir(parents=True)
        (ws / "inside.txt").write_text("inside")
        (ws / "dir" / "a.txt").write_text("a")
    return Tree(tmp=tmp.resolve(), ws=ws.resolve())


@contextmanager
def fresh_tree(populated: bool = True) -> Iterator[Tree]:
    with tempfile.TemporaryDirectory(prefix="sandbox-prop-") as d:
        yield _build(Path(d), populated)


def snapshot_outside(tree: Tree) -> dict[str, tuple[int, bytes | str | None, int]]:
    """Every entry under tmp except the workspace: type, content (or link target), mtime."""
    snap: dict[str, tuple[int, bytes | str | None, int]] = {}
    for dirpath, dirs, files in os.walk(tree.tmp, followlinks=False):
        if Path(dirpath) == tree.ws:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(dirpath) / name
            if p == tree.ws:
                continue
            st_ = p.lstat()
            content: bytes | str | None = None
            if stat.S_ISLNK(st_.st_mode):
                content = os.readlink(p)
            elif stat.S_ISREG(st_.st_mode):
                content = p.read_bytes()
            snap[str(p.relative_to(tree.tmp))] = (
                stat.S_IFMT(st_.st_mode),
                content,
                st_.st_mtime_ns,
            )
    return snap


# --- generated hostile paths --------------------------------------------------------------

LINK_NAMES = ["l0", "l1", "l2", "l3", "l4"]

# Where a planted symlink may point: inside (relative and absolute), outside (relative,
# absolute, through the prefix-sharing sibling), at itself, or at another link (chains).
_LINK_TARGETS = st.sampled_from(
    [
        "dir",
        "dir/deep",
        "inside.txt",
        ".",
        "..",
        "../outside",
        f"../outside/{OUTSIDE_NAME}",
        "../ws-evil",
        "../ws/dir",
        "../top-secret.txt",
        "dir/../../outside",
        "missing/../../outside/new.txt",
        "../outside/not-yet.txt",
        "@abs:outside",
        f"@abs:outside/{OUTSIDE_NAME}",
        "@abs:ws/dir",
        "@abs:/etc",
        *LINK_NAMES,
        *(f"dir/{n}" for n in LINK_NAMES),
        *(f"../ws/{n}" for n in LINK_NAMES),
    ]
)

links = st.lists(
    st.tuples(st.sampled_from([*LINK_NAMES, *(f"dir/{n}" for n in LINK_NAMES)]), _LINK_TARGETS),
    max_size=6,
    unique_by=lambda t: t[0],
)


def plant(tree: Tree, specs: list[tuple[str, str]]) -> None:
    for name, target in specs:
        if target.startswith("@abs:"):
            rest = target.removeprefix("@abs:")
            target = rest if rest.startswith("/") else str(tree.tmp / rest)
        (tree.ws / name).symlink_to(target)


_TRICKY_SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "...",
        "....",
        "%2e%2e",
        "%2e%2e%2f",
        "%2E%2E%2F",
        "..%2f",
        "%252e%252e%252f",
        "..\\",
        "..\\..\\outside",
        "\\",
        "~",
        "~root",
        "$HOME",
        "outside",
        OUTSIDE_NAME,
        "ws-evil",
        "ws",
        "top-secret.txt",
        "dir",
        "deep",
        "inside.txt",
        "etc",
        "passwd",
        "proc",
        "self",
        "\x00",
        "a\x00b",
        "..\x00",
        "\u2025",  # two-dot leader
        "\uff0e\uff0e",  # fullwidth full stops
        "\u202e..",  # right-to-left override
        ".\u0338.",  # combining overlay
        "x" * 256,
        "é" * 200,
        "\U0001f600" * 70,
        "\udcff",  # surrogate-escaped byte: what undecodable file names look like
        *LINK_NAMES,
    ]
)
_PLAIN_SEGMENTS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"),
    min_size=1,
    max_size=12,
)
_SEPARATORS = st.sampled_from(["/", "//", "/./", "\\", "/../"])


@st.composite
def hostile_paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.one_of(_TRICKY_SEGMENTS, _PLAIN_SEGMENTS), min_size=1, max_size=8))
    path = segments[0]
    for seg in segments[1:]:
        path += draw(_SEPARATORS) + seg
    prefix = draw(st.sampled_from(["", "", "", "/", "//", "./", "../", "/tmp/", "file:"]))
    return prefix + path


def _attempt(call: Callable[[], tuple[str, bool]]) -> str | None:
    try:
        content, _ = call()
    except (SandboxViolation, ToolError, OSError):
        return None
    assert isinstance(content, str)
    return content


@PROPERTY_SETTINGS
@given(path=hostile_paths(), specs=links)
@example(path="../outside/" + OUTSIDE_NAME, specs=[])
@example(path="l0/" + OUTSIDE_NAME, specs=[("l0", "l1"), ("l1", "../outside")])
@example(path="l0/new.txt", specs=[("l0", "dir/l1"), ("dir/l1", "@abs:outside")])
@example(path="../ws-evil/sub/nested.txt", specs=[])
@example(path="dir/l2", specs=[("dir/l2", "../../outside/not-yet.txt")])
@example(path="l3/x", specs=[("l3", "l3")])
def test_no_generated_path_reaches_outside_the_workspace(
    path: str, specs: list[tuple[str, str]]
) -> None:
    with fresh_tree() as tree:
        plant(tree, specs)
        before = snapshot_outside(tree)
        box = tree.sandbox
        outputs = [
            _attempt(lambda: box.read_file(ReadFileArgs(path=path))),
            _attempt(lambda: box.list_files(ListFilesArgs(path=path, recursive=True))),
            _attempt(lambda: box.list_files(ListFilesArgs(path=path))),
            _attempt(lambda: box.write_file(WriteFileArgs(path=path, content="PWNED"))),
            _attempt(lambda: box.make_dir(MakeDirArgs(path=path + "/made"))),
            _attempt(lambda: box.make_dir(MakeDirArgs(path=path))),
            _attempt(lambda: box.move_file(MoveFileArgs(src="inside.txt", dst=path))),
            _attempt(lambda: box.move_file(MoveFileArgs(src=path, dst="moved-here"))),
            _attempt(lambda: box.read_file(ReadFileArgs(path="moved-here"))),
        ]
        after = snapshot_outside(tree)
        assert after == before, f"{path!r} with links {specs} changed what lies outside"
        for out in outputs:
            if out is not None:
                assert SECRET.decode() not in out
                # Names from outside, unless the model itself chose that name for a file inside.
                for name in (OUTSIDE_NAME, "nested.txt"):
                    assert name in path or name not in out, out
                # Messages name paths relative to the workspace, never the host's layout.
                assert str(tree.tmp) not in out


def test_resolve_refuses_known_escapes() -> None:
    # The shapes above, pinned: each is refused up front, not merely harmless.
    with fresh_tree() as tree:
        plant(tree, [("l0", "l1"), ("l1", "../outside"), ("l2", "@abs:outside"), ("l3", "l3")])
        box = tree.sandbox
        for bad in [
            "../outside",
            "/etc/passwd",
            "dir/../../outside",
            "../ws-evil/x",
            "l0",
            "l0/x",
            "l2/" + OUTSIDE_NAME,
            "l3/x",
            "a\x00b",
            "",
        ]:
            try:
                box.resolve(bad)
            except SandboxViolation:
                continue
            raise AssertionError(f"{bad!r} was not refused")


# --- ordinary paths are usable ------------------------------------------------------------

_SAFE_SEGMENT = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+ ="),
        st.characters(
            whitelist_categories=["L", "N"],
            blacklist_characters="/\\\x00",
        ),
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s not in {".", ".."} and "%" not in s)

safe_paths = st.lists(_SAFE_SEGMENT, min_size=1, max_size=5).map("/".join)


@PROPERTY_SETTINGS
@given(rel=safe_paths, content=st.text(max_size=300))
@example(rel="a/b/c.txt", content="")
@example(rel="..a/b..", content="dots inside names are fine")
@example(rel="Ünïcödé/名前/файл.md", content="ü")
def test_every_safe_path_inside_is_usable(rel: str, content: str) -> None:
    # Lone surrogates cannot be written as UTF-8; the tool's validator refuses them upfront.
    content = content.encode("utf-8", "replace").decode("utf-8")
    # An empty workspace: a generated name must not collide with a seeded file or directory.
    with fresh_tree(populated=False) as tree:
        box = tree.sandbox
        before = snapshot_outside(tree)
        target = box.resolve(rel)
        assert target.is_relative_to(tree.ws) and target != tree.ws
        msg, already = box.write_file(WriteFileArgs(path=rel, content=content))
        assert not already and msg.startswith("wrote ")
        assert box.read_file(ReadFileArgs(path=rel)) == (content, False)
        # A retry of the same write is recognised, not redone.
        assert box.write_file(WriteFileArgs(path=rel, content=content))[1] is True
        listed, _ = box.list_files(ListFilesArgs(path=".", recursive=True))
        assert rel in listed.splitlines()
        moved = rel + ".moved"
        box.move_file(MoveFileArgs(src=rel, dst=moved))
        assert box.read_file(ReadFileArgs(path=moved)) == (content, False)
        assert snapshot_outside(tree) == before


def test_long_multibyte_name_is_writable() -> None:
    name = "\U0001f600" * 62
    assert len(name.encode()) <= 255
    with fresh_tree(populated=False) as tree:
        tree.sandbox.write_file(WriteFileArgs(path=name, content="x"))
        assert tree.sandbox.read_file(ReadFileArgs(path=name)) == ("x", False)
