"""Payload encryption (agentfleet/payloads/codec.py) and its codec server (codec_server.py).

The end-to-end tests share the session dev server but connect a second client with the key in
the env, and read histories back through `temporal workflow show`, the same way an operator
(or anyone with access to the Temporal server) would.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import DevServer, temporal_binary
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput, MasterResult
from agentfleet.errors import CliError
from agentfleet.payloads.codec import (
    DECRYPTION_ERROR,
    ENCODING,
    ENV_KEY,
    ENV_KEY_FILE,
    KEY_ID_METADATA,
    EncryptionCodec,
    EncryptionConfigError,
    PayloadDecryptionError,
    codec_from_env,
    generate_key,
)
from agentfleet.payloads.codec_server import CodecServer, codec_server_command
from agentfleet.payloads.converter import data_converter, data_converter_for
from workflows.master import MasterAgentWorkflow

UI_ORIGIN = "http://localhost:8233"


# --- helpers shared with test_secrets.py and test_ui_codec_browser.py ----------------------


def raw_key() -> bytes:
    return base64.b64decode(generate_key())


def history_json(address: str, workflow_id: str) -> dict[str, Any]:
    """`temporal workflow show --output json`: what the server hands any reader."""
    out = subprocess.run(
        [
            str(temporal_binary()),
            "workflow",
            "show",
            "--output",
            "json",
            "--address",
            address,
            "--workflow-id",
            workflow_id,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, f"temporal workflow show {workflow_id}: {out.stderr}"
    doc: dict[str, Any] = json.loads(out.stdout)
    doc["_raw"] = out.stdout
    return doc


def child_ids(history: dict[str, Any]) -> list[str]:
    ids = []
    for event in history["events"]:
        attrs = event.get("childWorkflowExecutionStartedEventAttributes")
        if attrs:
            ids.append(attrs["workflowExecution"]["workflowId"])
    return ids


def tree_histories(address: str, root_id: str) -> dict[str, dict[str, Any]]:
    """The history of a master and of every descendant it started, by workflow id."""
    found: dict[str, dict[str, Any]] = {}
    todo = [root_id]
    while todo:
        wid = todo.pop()
        if wid in found:
            continue
        found[wid] = history_json(address, wid)
        todo.extend(child_ids(found[wid]))
    return found


def payloads_in(doc: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every protobuf-JSON Payload in a history document, with where it was found."""
    if isinstance(doc, dict):
        meta = doc.get("metadata")
        if isinstance(meta, dict) and "encoding" in meta:
            yield path, doc
            return
        for key, value in doc.items():
            yield from payloads_in(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from payloads_in(value, (*path, str(i)))


def encoding_of(p: dict[str, Any]) -> bytes:
    return base64.b64decode(p["metadata"]["encoding"])


def data_of(p: dict[str, Any]) -> bytes:
    return base64.b64decode(p.get("data", ""))


# Plaintext by design, and free of content: search attributes are indexed for the UI's filters
# (role, tier, depth, root id); a `workflow.patched()` marker carries the patch id, written by
# the SDK core, which never runs codecs.
UNENCRYPTED_BY_DESIGN = {"searchAttributes", "indexedFields", "patch-data"}
# A local activity's marker (the ledger writes) carries core's own record of the call under
# "data" (seq, activity id and type, attempt, times), beside the codec-encoded "result".
LOCAL_ACTIVITY_RECORD = ["markerRecordedEventAttributes", "details", "data"]


def is_local_activity_record(path: tuple[str, ...]) -> bool:
    n = len(LOCAL_ACTIVITY_RECORD)
    return any(list(path[i : i + n]) == LOCAL_ACTIVITY_RECORD for i in range(len(path)))


def codec_payload_json(p: Payload) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(p)


def post(
    url: str,
    path: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    host_port = url.removeprefix("http://")
    conn = http.client.HTTPConnection(host_port, timeout=30)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    hdrs = {"Content-Type": "application/json", "X-Namespace": "default", **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    try:
        parsed = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        parsed = raw
    return resp.status, resp_headers, parsed


@asynccontextmanager
async def encrypted_worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    from worker import build_worker

    async with build_worker(client, settings, settings.task_queue):
        yield


async def run_master(client: Client, settings: Settings, goal: str, **kw: Any) -> tuple[str, Any]:
    wid = f"enc-{uuid.uuid4().hex[:10]}"
    async with encrypted_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=goal, **kw),
            id=wid,
            task_queue=settings.task_queue,
        )
        result = await handle.result()
    return wid, result


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Encryption on for every client `connect()` makes during the test."""
    key = f"e2e:{generate_key()}"
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.setenv(ENV_KEY, key)
    return key


@pytest.fixture
async def enc_client(devserver: DevServer, key_env: str) -> Client:
    return await connect(devserver.address)


# --- the codec -------------------------------------------------------------------------


async def test_round_trip_hides_everything_and_restores_exactly() -> None:
    codec = EncryptionCodec({"k1": raw_key()}, "k1")
    conv = data_converter_for(codec)
    values = ["the secret goal", {"goal": "x", "n": [1, 2]}, None, b"\x00\xffbytes"]
    encoded = await conv.encode(values)
    for p in encoded:
        assert p.metadata["encoding"] == ENCODING
        assert p.metadata[KEY_ID_METADATA] == b"k1"
        # The inner encoding is sealed too: nothing but ours shows.
        assert set(p.metadata) == {"encoding", KEY_ID_METADATA}
        assert b"secret" not in p.data and b"json/plain" not in p.data
    assert await conv.decode(encoded, [str, dict, type(None), bytes]) == values
    # Fresh nonce per payload: equal plaintexts give unrelated ciphertexts.
    again = await conv.encode(values[:1])
    assert again[0].data != encoded[0].data
    assert again[0].data[:12] != encoded[0].data[:12]


def test_no_key_keeps_the_plain_converter() -> None:
    assert codec_from_env({}) is None
    assert codec_from_env({ENV_KEY: "  "}) is None
    assert data_converter_for(None) is data_converter


def test_env_key_forms(tmp_path: Path) -> None:
    key = generate_key()
    assert codec_from_env({ENV_KEY: key}).key_ids == ("default",)  # type: ignore[union-attr]
    c = codec_from_env({ENV_KEY: f"prod-2:{key}"})
    assert c is not None and c.active_key_id == "prod-2"
    ring = tmp_path / "keys.json"
    ring.write_text(json.dumps({"active": "k2", "keys": {"k1": generate_key(), "k2": key}}))
    c = codec_from_env({ENV_KEY_FILE: str(ring)})
    assert c is not None and c.active_key_id == "k2" and c.key_ids == ("k1", "k2")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({ENV_KEY: "k1:not base64!!"}, "'k1' is not valid base64"),
        ({ENV_KEY: base64.b64encode(b"short").decode()}, "5 bytes; AES-256 needs 32"),
        ({ENV_KEY: f"bad id:{generate_key()}"}, "key id 'bad id'"),
        ({ENV_KEY: generate_key(), ENV_KEY_FILE: "/x"}, "set one"),
        ({ENV_KEY_FILE: "/nonexistent/keys.json"}, "cannot read"),
    ],
)
def test_bad_key_config_fails_clearly_without_the_key(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    with pytest.raises(EncryptionConfigError, match=expected) as info:
        codec_from_env(env)
    for value in env.values():
        secret = value.partition(":")[2] or value
        if len(secret) > 8 and not secret.startswith("/"):
            assert secret not in str(info.value)


def test_key_file_errors_name_the_problem(tmp_path: Path) -> None:
    secret = generate_key()
    ring = tmp_path / "keys.json"
    ring.write_text(json.dumps({"active": "k9", "keys": {"k1": secret}}))
    with pytest.raises(
        EncryptionConfigError, match=r"active key 'k9' is not among the keys \(k1\)"
    ):
        codec_from_env({ENV_KEY_FILE: str(ring)})
    ring.write_text("{not json " + secret)
    with pytest.raises(EncryptionConfigError, match="not valid JSON") as info:
        codec_from_env({ENV_KEY_FILE: str(ring)})
    assert secret not in str(info.value)


async def test_tampered_payload_fails_closed_naming_the_key_id() -> None:
    codec = EncryptionCodec({"k1": raw_key()}, "k1")
    [p] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    for i in (0, 12, len(p.data) - 1):  # the nonce, the ciphertext, the tag
        bad = Payload()
        bad.CopyFrom(p)
        bad.data = p.data[:i] + bytes([p.data[i] ^ 1]) + p.data[i + 1 :]
        with pytest.raises(PayloadDecryptionError, match="key id 'k1' failed authentication") as e:
            await codec.decode([bad])
        assert e.value.non_retryable and e.value.type == DECRYPTION_ERROR and e.value.key_id == "k1"
    truncated = Payload(metadata=dict(p.metadata), data=p.data[:20])
    with pytest.raises(PayloadDecryptionError, match="'k1' is truncated"):
        await codec.decode([truncated])
    # Relabelling to another known key id does not help: the id is authenticated data.
    two = EncryptionCodec({"k1": raw_key(), "k2": raw_key()}, "k1")
    [q] = await two.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    q.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(PayloadDecryptionError, match="'k2' failed authentication"):
        await two.decode([q])


async def test_unknown_key_id_and_strange_encodings_are_refused() -> None:
    a = EncryptionCodec({"a": raw_key()}, "a")
    b = EncryptionCodec({"b": raw_key()}, "b")
    [p] = await a.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    with pytest.raises(PayloadDecryptionError, match=r"key id 'a', which .* \(known: b\)") as e:
        await b.decode([p])
    assert e.value.key_id == "a"
    # Ciphertext with its encoding rewritten to a plain one is not passed on as plain.
    relabelled = Payload(metadata={"encoding": b"json/plain", KEY_ID_METADATA: b"a"}, data=p.data)
    with pytest.raises(PayloadDecryptionError, match="encryption key id 'a'"):
        await a.decode([relabelled])
    for meta in ({"encoding": b"binary/snappy"}, {}):
        with pytest.raises(PayloadDecryptionError, match="neither encrypted by this codec"):
            await a.decode([Payload(metadata=meta, data=b"??")])
    no_id = Payload(metadata={"encoding": ENCODING}, data=p.data)
    with pytest.raises(PayloadDecryptionError, match="no 'encryption-key-id'"):
        await a.decode([no_id])


async def test_plain_payloads_from_before_encryption_pass_through() -> None:
    codec = EncryptionCodec({"k1": raw_key()}, "k1")
    old = await data_converter.encode(["written before the key was set", None])
    assert await codec.decode(old) == old
    assert await data_converter_for(codec).decode(old, [str, type(None)]) == [
        "written before the key was set",
        None,
    ]


async def test_key_rotation_reads_old_keys_and_writes_the_active_one() -> None:
    key_a, key_b = raw_key(), raw_key()
    old = EncryptionCodec({"A": key_a}, "A")
    written = await data_converter_for(old).encode(["under A"])
    rotated = EncryptionCodec({"A": key_a, "B": key_b}, "B")
    assert await data_converter_for(rotated).decode(written, [str]) == ["under A"]
    [fresh] = await rotated.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    assert fresh.metadata[KEY_ID_METADATA] == b"B"
    with pytest.raises(PayloadDecryptionError, match="'A'"):
        await EncryptionCodec({"B": key_b}, "B").decode(written)


def test_dev_server_passes_the_ui_codec_endpoint() -> None:
    cmd = DevServer(db_file=None, ui_codec_endpoint="http://127.0.0.1:9999").command()
    assert cmd[cmd.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:9999"
    assert "--ui-codec-endpoint" not in DevServer(db_file=None).command()


# --- end to end: a master run with encryption on ------------------------------------------


async def test_master_history_is_encrypted_and_the_codec_server_decodes_it(
    enc_client: Client,
    client: Client,
    devserver: DevServer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_workspace(settings.workspaces / "ws")
    wid, result = await run_master(enc_client, settings, DEMO_GOAL, workspace="ws")
    assert isinstance(result, MasterResult) and result.tree.status == "completed"
    assert len(result.tree.children) >= 3

    histories = tree_histories(devserver.address, wid)
    assert len(histories) == 1 + len(result.tree.children)
    secrets_in_clear = [DEMO_GOAL.encode(), b"Decided to ship on Friday.", b"notes/SUMMARY.md"]
    seen = 0
    for child_wid, history in histories.items():
        assert DEMO_GOAL not in history["_raw"], child_wid
        for path, p in payloads_in(history["events"]):
            if UNENCRYPTED_BY_DESIGN & set(path):
                continue
            if is_local_activity_record(tuple(path)):
                assert not [t for t in secrets_in_clear if t in data_of(p)], (child_wid, path)
                continue
            seen += 1
            assert encoding_of(p) == ENCODING, (child_wid, path)
            assert base64.b64decode(p["metadata"][KEY_ID_METADATA]) == b"e2e"
            for text in secrets_in_clear:
                assert text not in data_of(p), (child_wid, path)
    assert seen > 20  # inputs, results, activity payloads, summaries

    # A client without the key cannot read the result: it gets ciphertext, not a goal.
    plain_handle = client.get_workflow_handle(wid)
    with pytest.raises(Exception, match="binary/encrypted"):
        await plain_handle.result()

    # The codec server turns the master's own history back into plaintext.
    master_payloads = [p for _, p in payloads_in(histories[wid]["events"])]
    enc_codec = enc_client.data_converter.payload_codec
    assert isinstance(enc_codec, EncryptionCodec)
    caplog.set_level(logging.DEBUG, logger="agentfleet.payloads.codec_server")
    with CodecServer(enc_codec, cors_origins=[UI_ORIGIN]) as server:
        status, _, body = post(server.url, "/default/decode", {"payloads": master_payloads})
    assert status == 200
    decoded = [data_of(p) for p in body["payloads"]]
    assert len(decoded) == len(master_payloads)
    start_input = json.loads(decoded[0])
    assert start_input["goal"] == DEMO_GOAL and start_input["workspace"] == "ws"
    assert {encoding_of(p) for p in body["payloads"]} <= {b"json/plain", b"binary/null"}
    # Its log says what happened, never what was in the payloads.
    assert "decode" in caplog.text and "payloads=" in caplog.text
    assert "Sort the files" not in caplog.text


async def test_tampered_history_payload_fails_clearly_at_the_codec_server(
    enc_client: Client, settings: Settings, devserver: DevServer
) -> None:
    wid, _ = await run_master(enc_client, settings, "Write a haiku about caching to haiku.md")
    [(_, p), *_] = list(payloads_in(history_json(devserver.address, wid)["events"]))
    data = bytearray(data_of(p))
    data[-1] ^= 0x01
    tampered = {**p, "data": base64.b64encode(bytes(data)).decode()}
    codec = enc_client.data_converter.payload_codec
    assert codec is not None
    with CodecServer(codec) as server:
        status, _, body = post(server.url, "/decode", {"payloads": [p, tampered]})
    assert status == 400
    assert body["key_id"] == "e2e"
    assert "key id 'e2e' failed authentication" in body["error"]


async def test_rotation_reads_runs_written_under_the_old_key(
    devserver: DevServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    key_a, key_b = generate_key(), generate_key()
    ring = tmp_path / "keys.json"
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv(ENV_KEY_FILE, str(ring))

    ring.write_text(json.dumps({"active": "A", "keys": {"A": key_a}}))
    client_a = await connect(devserver.address)
    wid_a, result_a = await run_master(client_a, settings, "Write a haiku about logs to a.md")

    # Rotate: B becomes active, A stays as a read key. Old runs stay readable, new ones use B.
    ring.write_text(json.dumps({"active": "B", "keys": {"A": key_a, "B": key_b}}))
    client_ab = await connect(devserver.address)
    again = await client_ab.get_workflow_handle_for(MasterAgentWorkflow.run, wid_a).result()
    assert again.tree.output == result_a.tree.output
    wid_b, _ = await run_master(client_ab, settings, "Write a haiku about tests to b.md")
    first_input = next(payloads_in(history_json(devserver.address, wid_b)["events"]))[1]
    assert base64.b64decode(first_input["metadata"][KEY_ID_METADATA]) == b"B"

    # Dropping A too early fails loudly, naming the key that is missing.
    ring.write_text(json.dumps({"active": "B", "keys": {"B": key_b}}))
    client_b = await connect(devserver.address)
    with pytest.raises(PayloadDecryptionError, match="key id 'A', which this process does not"):
        await client_b.get_workflow_handle(wid_a).result()
    assert (
        await client_b.get_workflow_handle_for(MasterAgentWorkflow.run, wid_b).result()
    ).tree.status == "completed"


# --- the codec server: CORS and auth ------------------------------------------------------


@pytest.fixture
def server() -> Iterator[CodecServer]:
    with CodecServer(EncryptionCodec({"k1": raw_key()}, "k1"), cors_origins=[UI_ORIGIN]) as s:
        yield s


def _encoded_sample(server: CodecServer) -> dict[str, Any]:
    status, _, body = post(
        server.url,
        "/encode",
        {
            "payloads": [
                codec_payload_json(Payload(metadata={"encoding": b"json/plain"}, data=b"1"))
            ]
        },
    )
    assert status == 200
    return dict(body)


def test_cors_preflight_is_answered_for_the_ui_origin_only(server: CodecServer) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    status, headers, _ = post(
        server.url, "/decode", method="OPTIONS", headers={"Origin": UI_ORIGIN, **preflight}
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed
    assert headers["access-control-allow-credentials"] == "true"

    evil = "http://evil.example:8233"
    status, headers, _ = post(
        server.url, "/decode", method="OPTIONS", headers={"Origin": evil, **preflight}
    )
    assert status == 403 and "access-control-allow-origin" not in headers

    # The real request: answered with CORS headers for the UI, refused for anyone else.
    sample = _encoded_sample(server)
    status, headers, body = post(server.url, "/decode", sample, headers={"Origin": UI_ORIGIN})
    assert status == 200 and headers["access-control-allow-origin"] == UI_ORIGIN
    assert data_of(body["payloads"][0]) == b"1"
    status, headers, body = post(server.url, "/decode", sample, headers={"Origin": evil})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert body == {"error": "origin not allowed"}


def test_protocol_errors_are_json(server: CodecServer) -> None:
    assert post(server.url, "/decode", b"not json")[0] == 400
    assert post(server.url, "/decode", {"payloads": [{"data": "***"}]})[0] == 400
    status, _, body = post(server.url, "/nope", {"payloads": []})
    assert status == 404 and "error" in body
    assert post(server.url, "/decode", method="GET")[0] == 405
    # Only the last path segment counts, so the endpoints may sit under any prefix.
    status, _, body = post(server.url, "/some/prefix/default/decode", {"payloads": []})
    assert (status, body) == (200, {"payloads": []})


def test_bearer_token_is_enforced_when_set() -> None:
    codec = EncryptionCodec({"k1": raw_key()}, "k1")
    with CodecServer(codec, token="s3cret-token-value", cors_origins=[UI_ORIGIN]) as server:
        body = {"payloads": []}
        status, headers, _ = post(server.url, "/decode", body)
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer nope"}
        assert post(server.url, "/decode", body, headers=wrong)[0] == 401
        basic = {"Authorization": "Basic s3cret-token-value"}
        assert post(server.url, "/decode", body, headers=basic)[0] == 401
        right = {"Authorization": "Bearer s3cret-token-value"}
        assert post(server.url, "/decode", body, headers=right)[0] == 200
        # Browsers send preflights without credentials: those must still be answered.
        status, _, _ = post(
            server.url,
            "/decode",
            method="OPTIONS",
            headers={"Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert status == 204


def test_codec_server_command_refuses_unsafe_setups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.delenv("AGENTFLEET_CODEC_TOKEN", raising=False)
    with pytest.raises(CliError, match="no key"):
        codec_server_command(port=0)
    monkeypatch.setenv(ENV_KEY, generate_key())
    with pytest.raises(CliError, match="without a token"):
        codec_server_command(host="0.0.0.0", port=0)


async def test_a_worker_without_the_key_fails_the_run_instead_of_guessing(
    devserver: DevServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Non-retryable on purpose (see agentfleet/payloads/codec.py): the run fails naming the key id,
    # rather than looping on a workflow task that can never decode its input.
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.setenv(ENV_KEY, f"A:{generate_key()}")
    client_a = await connect(devserver.address)
    monkeypatch.setenv(ENV_KEY, f"B:{generate_key()}")
    client_b = await connect(devserver.address)
    handle = await client_a.start_workflow(
        MasterAgentWorkflow.run,
        MasterInput(goal="Write a haiku about keys to k.md"),
        id=f"nokey-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    async with encrypted_worker(client_b, settings):
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=30)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == DECRYPTION_ERROR
    assert "key id 'A', which this process does not have" in cause.message
