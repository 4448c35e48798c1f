"""The new file tools and the per-goal allow-list, through real workflows and the simulator.

A goal's `tools` decides what its agents are offered; a name that exists nowhere fails the
run at once, naming the field; a goal whose work needs a tool it was not allowed ends
unverified, never completed. A delete lands in the deleting agent's trash, and
`agentfleet workspace restore` brings it back byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from agentfleet.cli.main import main as cli_main
from agentfleet.config import Settings
from agentfleet.contracts.models import Effect
from agentfleet.sandbox import TRASH, run_key
from tests.test_real_completion import run_goal


async def test_a_delete_goes_to_the_agents_trash_and_restores(
    client: Client,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = "2019 boot log\n"
    result, ws, _ = await run_goal(
        client, settings, "Delete old.log", {"old.log": data, "keep.txt": "k"}
    )
    assert result.status == "completed", result.tree.error
    (node,) = result.tree.children
    assert Effect(op="delete", path="old.log") in node.effects
    assert not (ws / "old.log").exists() and (ws / "keep.txt").read_text() == "k"
    slot = ws / TRASH / run_key(node.workflow_id) / "old.log"
    assert slot.read_text() == data
    monkeypatch.setenv("AGENTFLEET_HOME", str(settings.home))
    assert cli_main(["workspace", "restore", ws.name, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["path"], e["run"]) for e in listed["trash"]] == [
        ("old.log", run_key(node.workflow_id))
    ]
    assert cli_main(["workspace", "restore", ws.name, "old.log"]) == 0
    assert (ws / "old.log").read_text() == data
    assert cli_main(["workspace", "restore", ws.name, "old.log"]) == 2
    assert "old.log is not in the trash" in capsys.readouterr().err


async def test_a_goal_without_the_tool_it_needs_is_never_completed(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client, settings, "Delete old.log", {"old.log": "x"}, tools=["list_files", "read_file"]
    )
    assert result.status == "unverified", (result.status, result.tree.error)
    assert (ws / "old.log").read_text() == "x"
    (node,) = result.tree.children
    assert "no tool to delete files was offered" in node.output, node.output


async def test_an_unknown_tool_in_the_allow_list_fails_the_run_naming_it(
    client: Client, settings: Settings
) -> None:
    with pytest.raises(WorkflowFailureError) as info:
        await run_goal(client, settings, "Delete old.log", {"old.log": "x"}, tools=["rm_rf"])
    cause = info.value.cause
    assert "tools: unknown tool rm_rf; available: list_files" in str(cause)


async def test_search_and_edit_goals_use_the_new_tools(client: Client, settings: Settings) -> None:
    files = {"src/app.py": "# TODO: read the port\nprint('up')\n", "config.ini": "port=8080\n"}
    result, ws, _ = await run_goal(
        client,
        settings,
        "Collect every line with TODO in it from the files in src/ into todos.txt",
        files,
    )
    assert result.status == "completed", result.tree.error
    assert (ws / "todos.txt").read_text() == "# TODO: read the port\n"
    ops = {e.op for n in result.tree.walk() for e in n.effects}
    assert "list" in ops and "write" in ops  # search_files journals as a listing of src
    result, ws2, _ = await run_goal(
        client,
        settings,
        "In config.ini, change the port from 8080 to 9090",
        {"config.ini": "port=8080\n"},
    )
    assert result.status == "completed", result.tree.error
    assert (ws2 / "config.ini").read_text() == "port=9090\n"
    assert any(
        e == Effect(op="edit", path="config.ini") for n in result.tree.walk() for e in n.effects
    )


def test_trash_keys_are_safe_names() -> None:
    assert run_key("master-1/inline-2") == "master-1_inline-2"
    assert run_key("../..") == "unknown-run"
    assert run_key("") == "unknown-run"
    assert Path(run_key("a" * 500)).name == "a" * 120
