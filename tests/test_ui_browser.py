"""The Temporal UI as a front end: a person starts the demo goal from a browser.

Headless Debian Chromium, driven by Playwright, against the UI (2.54) that the
dev server serves. The test does what the README tells a person to do: Start
Workflow, type `MasterAgentWorkflow` on task queue `agentfleet`, type the JSON
input, start, and watch the sub-agents finish. Its own dev server keeps the
real queue name away from every other test.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from agentfleet import TASK_QUEUE
from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterResult
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "Debian's chromium is needed at /usr/bin/chromium: "
    "`apt-get update && apt-get install -y chromium` (as root; CI installs it). "
    "Do not use `playwright install`: the browser comes from Debian, "
    "and the Python package from the venv (playwright==1.65.2)."
)


@pytest.fixture
def chromium() -> Path:
    """Missing chromium fails the test (never skips it): the UI is a product surface."""
    if not CHROMIUM.exists():
        pytest.fail(INSTALL_HINT)
    return CHROMIUM


@pytest.fixture
async def ui_stack(tmp_path: Path, sim: Simulator) -> AsyncIterator[tuple[DevServer, Settings]]:
    server = DevServer(
        db_file=tmp_path / "ui.db",
        port=free_port(),
        ui_port=free_port(),
        log_file=ARTIFACTS / "devserver-ui.log",
    )
    server.start(reuse=False)
    home = tmp_path / "home"
    (home / "workspaces").mkdir(parents=True)
    settings = Settings(
        home=home,
        temporal_address=server.address,
        task_queue=TASK_QUEUE,
        ui_port=server.ui_port or 0,
        anthropic_api_key=None,
        anthropic_base_url=sim.url,
    )
    try:
        yield server, settings
    finally:
        server.stop()


async def test_start_the_demo_goal_from_the_temporal_ui(
    chromium: Path, ui_stack: tuple[DevServer, Settings]
) -> None:
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        pytest.fail("the `playwright` package is missing: pip install playwright==1.65.2")
    from worker import build_worker

    server, settings = ui_stack
    assert server.ui_url is not None
    client: Client = await connect(server.address)
    workspace = f"ui-{uuid.uuid4().hex[:6]}"
    seed_workspace(settings.workspaces / workspace)
    wid = f"ui-demo-{uuid.uuid4().hex[:8]}"
    ARTIFACTS.mkdir(exist_ok=True)

    async with build_worker(client, settings), async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(30_000)
            await page.goto(f"{server.ui_url}/namespaces/default/workflows")
            await (
                page.get_by_role("link", name="Start Workflow")
                .or_(page.get_by_role("button", name="Start Workflow"))
                .first.click()
            )
            await page.wait_for_url(re.compile(r"/workflows/start-workflow"))

            await page.get_by_test_id("workflowId").fill(wid)
            await page.get_by_test_id("taskQueue").fill(TASK_QUEUE)
            await page.get_by_test_id("workflowType").fill("MasterAgentWorkflow")
            # The input is a CodeMirror editor: only typed keys reach its state,
            # and the form takes the value when the editor loses focus.
            await page.locator(".cm-content").first.click()
            await page.keyboard.type(json.dumps({"goal": DEMO_GOAL, "workspace": workspace}))
            await page.keyboard.press("Tab")
            # Starting before the UI has seen a poller works, but a person would
            # be told the queue has no worker; wait for the real confirmation.
            await expect(page.get_by_text("Task Queue is Active")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "ui-start-workflow.png"), full_page=True)

            await page.get_by_test_id("start-workflow-button").click()
            await page.get_by_role("link", name="Workflow started successfully").click()
            await page.wait_for_url(re.compile(rf"/workflows/{re.escape(wid)}/"))

            handle = client.get_workflow_handle(wid, result_type=MasterResult)
            result = await handle.result()
            assert result.status == "completed", result.tree.error

            # What the person sees: the status, the answer, and every sub-agent
            # by the summary the master gave it.
            await expect(page.get_by_test_id("execution-status")).to_have_text(
                re.compile("completed", re.IGNORECASE), timeout=60_000
            )
            panel = page.get_by_test_id("input-and-result")
            await expect(panel).to_contain_text(workspace)
            await expect(panel).to_contain_text("Simulated synthesis")
            subagents = [c for c in result.tree.children if c.role == "subagent"]
            assert len(subagents) >= 3
            for i, child in enumerate(subagents, start=1):
                summary = f'sub-agent {i}/{len(subagents)} · "{child.title[:60]}"'
                await expect(page.get_by_text(summary).first).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "ui-workflow-completed.png"), full_page=True)
        finally:
            await browser.close()
