"""`agentfleet run --wait` on a terminal, and the shell conveniences of the typer CLI."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from temporalio.client import Client

from agentfleet.cli import commands
from agentfleet.cli.devserver import DevServer
from agentfleet.sim import Simulator
from tests.conftest import COMPLEX_GOAL, make_settings, running_worker
from tests.test_cli import AGENTFLEET, sh


def _frames(recorded: str, workflow_id: str) -> list[str]:
    """The trees drawn, one per refresh: each frame opens with the run's header line."""
    pieces = recorded.split(f"{workflow_id} · ")[1:]
    return [piece.partition("\n")[2] for piece in pieces]


async def test_run_wait_draws_the_tree_as_it_grows(
    client: Client, devserver: DevServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A slow simulator, so the run lasts long enough to be watched.
    with Simulator(port=0, latency_ms=300) as slow:
        settings = make_settings(tmp_path / "home", devserver, slow.url)
        console = Console(record=True, file=io.StringIO(), force_terminal=True, width=200)
        wid = commands.new_workflow_id()
        async with running_worker(client, settings):
            code = await commands.run(
                settings, COMPLEX_GOAL, wait=True, workflow_id=wid, console=console
            )
    assert code == 0
    frames = _frames(console.export_text(), wid)
    running = {f for f in frames if "[running]" in f}
    assert len(running) >= 2, frames
    # Children appear under the master while they work, each with its progress.
    child_running = re.compile(r"── .*\[running\].* turns · .* tool calls · .* tok · \$")
    assert any(child_running.search(f) for f in frames), frames
    # The live view gives way to the same final text a pipe gets.
    out = capsys.readouterr().out
    assert "├─" in out or "└─" in out
    assert "Temporal UI: http://" in out and f"/workflows/{wid}" in out


async def test_sim_help_is_the_simulators_own() -> None:
    code, out, err = await sh(*AGENTFLEET, "sim", "--help")
    assert code == 0, err
    assert "--latency-ms" in out and "--port" in out


async def test_usage_errors_are_one_line_on_stderr() -> None:
    code, out, err = await sh(*AGENTFLEET, "run")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    code, out, err = await sh(*AGENTFLEET, "fleet", "submit", "x", "--priority", "9")
    assert code == 2 and err.startswith("error: ") and "--priority" in err


async def test_shell_completion_is_offered() -> None:
    # Typer otherwise guesses the shell from the process tree and ignores "bash": a suite
    # started from a background job, with no shell above it, got "Shell  not supported".
    code, out, err = await sh(
        *AGENTFLEET,
        "--show-completion",
        "bash",
        env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert code == 0, err
    assert "_AGENTFLEET_COMPLETE" in out
    code, out, err = await sh(
        *AGENTFLEET,
        env={
            "_AGENTFLEET_COMPLETE": "complete_bash",
            "COMP_WORDS": "agentfleet fl",
            "COMP_CWORD": "1",
        },
    )
    assert code == 0, err
    assert out.split() == ["fleet"]


async def test_run_wait_json_gives_a_document_for_a_failed_run_too(
    client: Client, devserver: DevServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    with Simulator(port=0) as sim:
        settings = make_settings(tmp_path / "home", devserver, sim.url)
        wid = commands.new_workflow_id()
        async with running_worker(client, settings):
            # The plan fills the context window: the master fails, clearly.
            goal = f"{COMPLEX_GOAL} [sim:habit=context-full]"
            code = await commands.run(settings, goal, wait=True, as_json=True, workflow_id=wid)
    assert code == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["workflow_id"] == wid and doc["status"] == "failed"
    assert "context window" in doc["error"]
    assert captured.err.startswith("error: ")
