"""The Temporal UI shows an encrypted run decoded, through the codec server, in a real browser.

A dedicated dev server is started with `--ui-codec-endpoint` pointing at a CodecServer (the
session one has no codec endpoint). History holds only ciphertext; the page must show the
goal, which only the codec server can produce. Needs Debian's chromium (`/usr/bin/chromium`),
driven by Playwright; the Playwright browsers download is never used.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.contracts.models import MasterInput
from agentfleet.payloads.codec import ENV_KEY, ENV_KEY_FILE, codec_from_env, generate_key
from agentfleet.payloads.codec_server import CodecServer
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings
from tests.test_codec import encoding_of, encrypted_worker, history_json, payloads_in
from workflows.master import MasterAgentWorkflow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = ARTIFACTS / "ui-codec.png"


def require_chromium() -> None:
    # A silent skip would let CI go green without ever testing the UI path.
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: this test needs Debian's chromium. Install it with "
            "`apt-get update && apt-get install -y chromium` (do not run `playwright install`).",
            pytrace=False,
        )


async def test_ui_shows_the_decoded_goal(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    from playwright.async_api import async_playwright

    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.setenv(ENV_KEY, f"ui:{generate_key()}")
    codec = codec_from_env(os.environ)
    assert codec is not None

    ui_port = free_port()
    ui_origins = [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
    ARTIFACTS.mkdir(exist_ok=True)
    goal = f"Write a limerick about sealed payloads to poem-{uuid.uuid4().hex[:6]}.md"
    with (
        CodecServer(codec, cors_origins=ui_origins) as codec_server,
        DevServer(
            db_file=tmp_path / "temporal.db",
            port=free_port(),
            ui_port=ui_port,
            log_file=ARTIFACTS / "devserver-ui-codec.log",
            ui_codec_endpoint=codec_server.url,
        ) as server,
    ):
        client = await connect(server.address)
        settings = make_settings(tmp_path / "home", server, sim.url)
        wid = f"ui-codec-{uuid.uuid4().hex[:8]}"
        async with encrypted_worker(client, settings):
            handle = await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=goal),
                id=wid,
                task_queue=settings.task_queue,
            )
            await handle.result()
        # What the UI receives from the server is ciphertext only.
        history = history_json(server.address, wid)
        assert goal not in history["_raw"]
        first_input = next(payloads_in(history["events"]))[1]
        assert encoding_of(first_input) == b"binary/encrypted"

        assert server.ui_url is not None
        page_url = f"{server.ui_url}/namespaces/default/workflows/{wid}"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1800})
                await page.goto(page_url, wait_until="domcontentloaded")
                try:
                    await page.wait_for_function(
                        "goal => document.body && document.body.innerText.includes(goal)",
                        arg=goal,
                        timeout=60_000,
                    )
                finally:
                    # Saved either way: on failure it shows what the page showed instead.
                    await page.screenshot(path=str(SCREENSHOT), full_page=True)
                text = await page.inner_text("body")
            finally:
                await browser.close()

    assert goal in text
    # The page got it from the codec server, called by the browser across origins.
    assert codec_server.stats["decode 200"] >= 1, dict(codec_server.stats)
    assert codec_server.stats["preflight 204"] >= 1, dict(codec_server.stats)
    assert SCREENSHOT.stat().st_size > 10_000
