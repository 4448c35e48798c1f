"""The one place that talks to Claude (or the simulator): the Messages API.

The SDK's own retries are off (`max_retries=0`): Temporal's retry policy owns
retries, so every attempt is visible in history, charged, and survives a worker
crash. Errors are classified here, once: overload and rate limits are retryable
(honouring `retry-after`), bad requests and auth failures are not.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._beat import beating
from activities._cut import beat_details, cut_attempts
from activities.governor import Governor, Ticket
from agentfleet.config import SIM_API_KEY, Settings
from agentfleet.contracts.activities import LLM_ACTIVITY
from agentfleet.contracts.models import (
    ContentBlock,
    LlmRequest,
    LlmResponse,
    Message,
    TextBlock,
    ToolSpec,
    ToolUseBlock,
)
from agentfleet.delegation.caching import add_breakpoints
from agentfleet.delegation.pricing import usage_for
from agentfleet.governance.headers import rate_headers
from agentfleet.governance.models import (
    DEFAULT_PRIORITY,
    LeaseRequest,
    LeaseSettle,
)
from agentfleet.mcp import resolve_tool
from agentfleet.payloads.blobstore import BlobMissing, BlobStore, LocalBlobStore
from agentfleet.sandbox import TOOLS_BY_NAME
from agentfleet.telemetry import LlmCall, llm_call
from agentfleet.telemetry import names as tn
from agentfleet.telemetry.activity import count_event

if TYPE_CHECKING:
    import anthropic

_TRANSCRIPT = TypeAdapter(list[Message])
T = TypeVar("T")

NON_RETRYABLE_STATUS = {
    400: "bad request",
    401: "authentication failed",
    402: "payment required",
    403: "permission denied",
    404: "not found",
    413: "request too large",
    422: "unprocessable request",
}


def retry_after(headers: Any) -> timedelta | None:
    """`retry-after` as seconds (RFC 9110 also allows a date; Anthropic sends seconds)."""
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return timedelta(seconds=max(0.0, min(seconds, 300.0)))


# The retry policy's own interval (workflows/_calls.py LLM_RETRY) is short, for the
# retry after a dead worker's heartbeat timeout: that call never reached an answer and
# nothing is overloaded. An answer that was an error (529, 5xx, a dropped connection)
# waits as before: 1 s, doubling to 60 s, unless the API said how long (retry-after).
API_BACKOFF_FIRST_S = 1.0
API_BACKOFF_MAX_S = 60.0


def with_api_backoff(failure: ApplicationError, attempt: int) -> ApplicationError:
    """An API error answer retried after 1 s, doubling per attempt, unless it says otherwise.

    The workflow's retry policy starts at 0.2 s for dead workers; an answer that
    was an error (a 529, a 500) should not be hammered that fast.
    """
    if failure.non_retryable or failure.next_retry_delay is not None:
        return failure
    seconds = min(API_BACKOFF_MAX_S, API_BACKOFF_FIRST_S * 2 ** max(0, attempt - 1))
    return ApplicationError(
        failure.message, type=failure.type, next_retry_delay=timedelta(seconds=seconds)
    )


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[REDACTED]") if secret else text


def sdk() -> ModuleType:
    """The anthropic package, imported on first use.

    It is some 3,500 modules (about 3 s of CPU on a 2-core machine): imported
    eagerly it was most of a restarted worker's time to its first poll, so
    `LlmActivities` imports it in a background thread while the worker
    connects and starts resuming workflow tasks (bench/recovery.py).
    """
    import anthropic

    return anthropic


# The SDK's import, started once (at the activities' construction) in a thread of its
# own. Calls that need it before it is done await this future: each used to wait in
# `asyncio.to_thread`, and a restarted worker's retried calls took every thread of the
# loop's default executor that way, so a ledger row or a file tool queued behind the
# import for a second and a half (bench/chaos_week.py, py-spy; issue #18).
_SDK_IMPORT: Future[ModuleType] | None = None
_SDK_IMPORT_LOCK = threading.Lock()


def _warm_up() -> Future[ModuleType]:
    global _SDK_IMPORT
    with _SDK_IMPORT_LOCK:
        if _SDK_IMPORT is None:
            done: Future[ModuleType] = Future()

            def run() -> None:
                try:
                    done.set_result(sdk())
                except BaseException as err:  # noqa: BLE001 - handed to whoever awaits it
                    done.set_exception(err)

            threading.Thread(target=run, name="import-anthropic", daemon=True).start()
            _SDK_IMPORT = done
        return _SDK_IMPORT


def classify(err: Exception, secret: str | None) -> ApplicationError:
    """Map an SDK exception to the ApplicationError Temporal should act on."""
    anthropic = sdk()
    if isinstance(err, anthropic.APITimeoutError):
        return ApplicationError("Anthropic API timed out", type="LlmTimeout")
    if isinstance(err, anthropic.APIConnectionError):
        return ApplicationError("cannot reach the Anthropic API", type="LlmConnection")
    if isinstance(err, anthropic.APIStatusError):
        status = err.status_code
        body_msg = _redact(_error_message(err), secret)
        if status in NON_RETRYABLE_STATUS:
            return ApplicationError(
                f"Anthropic API {status} ({NON_RETRYABLE_STATUS[status]}): {body_msg}",
                type=f"LlmHttp{status}",
                non_retryable=True,
            )
        delay = retry_after(err.response.headers)
        kind = {429: "LlmRateLimited", 529: "LlmOverloaded"}.get(status, f"LlmHttp{status}")
        return ApplicationError(
            f"Anthropic API {status}: {body_msg}", type=kind, next_retry_delay=delay
        )
    return ApplicationError(_redact(f"{type(err).__name__}: {err}", secret), type="LlmError")


# httpx2's failures that come before any byte of the request is written: the API never
# saw these calls. Named, not imported, so this module does not import the SDK's stack.
_NEVER_SENT = frozenset(
    {"ConnectError", "ConnectTimeout", "PoolTimeout", "UnsupportedProtocol", "ProxyError"}
)


def may_have_been_delivered(err: BaseException) -> bool:
    """Whether a request that failed with `err` may have reached the API unanswered.

    A status reply is an answer (the API does not bill a 429, 529 or 5xx). A connection
    failure is unanswered unless it came before the request went out: a read timeout or
    a connection dropped mid-reply may leave a call the API ran and bills for.
    """
    if not isinstance(err, sdk().APIConnectionError):
        return False
    cause = err.__cause__
    if cause is None:
        return True
    return not {c.__name__ for c in type(cause).__mro__} & _NEVER_SENT


def _error_message(err: anthropic.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return err.message


# A long answer is normal for Claude; a silent worker is not. Beating well inside
# the workflow's heartbeat timeout (workflows/_calls.py) lets a dead worker's call
# be retried within seconds while a slow answer keeps going.
HEARTBEAT_EVERY_S = 0.5


async def _heartbeating(call: Awaitable[T], details: dict[str, Any]) -> T:
    """Await `call`, beating `details` every HEARTBEAT_EVERY_S.

    While the request is out the details name this attempt as "in flight", with the
    attempts already known to be cut: if this worker dies or is shut down then, the
    next attempt reads that beat (`cut_attempts`) and the receipts say so.
    """
    return await beating(call, every_s=HEARTBEAT_EVERY_S, details=details)


# A lease wait counts against the activity's 180 s start-to-close timeout
# (workflows/_calls.py): past this, the attempt gives its place up and Temporal
# retries it, rather than timing out mid-call.
MAX_LEASE_WAIT_S = 140.0


def estimate_input_tokens(kwargs: dict[str, Any]) -> int:
    """A deliberately high guess (3 characters a token): the settle returns the excess."""
    chars = sum(
        len(json.dumps(kwargs.get(k), ensure_ascii=False))
        for k in ("system", "messages")
        if kwargs.get(k) is not None
    )
    chars += sum(_tool_chars(t) for t in kwargs.get("tools") or ())
    return max(1, chars // 3)


# The file tools' specs are constants, sent with every turn of every agent: each is
# dumped (and measured) once. A request gets a shallow copy of the dump, because the
# prompt-cache breakpoint is set on the last tool in place.
_FILE_TOOLS: dict[str, tuple[dict[str, Any], int]] = {}


def _tool_json(spec: ToolSpec) -> dict[str, Any]:
    if TOOLS_BY_NAME.get(spec.name) is not spec:
        return spec.model_dump(mode="json")
    known = _FILE_TOOLS.get(spec.name)
    if known is None:
        dumped = spec.model_dump(mode="json")
        known = _FILE_TOOLS[spec.name] = (dumped, len(json.dumps(dumped, ensure_ascii=False)))
    return dict(known[0])


def _tool_chars(tool: Any) -> int:
    known = _FILE_TOOLS.get(tool.get("name", "")) if isinstance(tool, dict) else None
    if known is None or known[0]["input_schema"] is not tool.get("input_schema"):
        return len(json.dumps(tool, ensure_ascii=False))
    extra = {k: v for k, v in tool.items() if k not in known[0]}  # a cache breakpoint
    return known[1] + (len(json.dumps(extra, ensure_ascii=False)) if extra else 0)


def _lease_id(info: activity.Info) -> str:
    # Per attempt: a retry after a crash asks anew, and the dead attempt's lease expires.
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}/{info.attempt}"


class LlmActivities:
    """The model call: the Anthropic SDK (or the simulator), governed, traced, heartbeating."""

    def __init__(
        self,
        settings: Settings,
        store: BlobStore | None = None,
        governor: Governor | None = None,
    ) -> None:
        self._store = store or LocalBlobStore(settings.blobs)
        self._governor = governor or Governor(settings.governor)
        self._key = settings.anthropic_api_key
        self._simulated = settings.uses_simulator
        self._base_url = settings.anthropic_base_url
        self._prompt_cache = settings.prompt_cache
        self._timeout_s = settings.llm_timeout_s
        self._client: anthropic.AsyncAnthropic | None = None
        _warm_up()

    async def _sdk_client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            # The first calls may still be waiting for the import: none holds a thread.
            module = await asyncio.wrap_future(_warm_up())
            self._client = module.AsyncAnthropic(
                api_key=self._key or SIM_API_KEY,
                base_url=self._base_url,
                max_retries=0,
                timeout=self._timeout_s,
                # The SDK's own span would be a second `chat` span per attempt, and its env
                # vars could put prompts on it: our `chat` span (agentfleet/telemetry) is
                # the one.
                open_telemetry=False,
            )
        return self._client

    @activity.defn(name=LLM_ACTIVITY)
    async def chat(self, req: LlmRequest) -> LlmResponse:
        """One turn of an agent: one `chat {model}` span and the LLM metrics per attempt."""
        with llm_call(req, simulated=self._simulated) as call:
            cut = cut_attempts()
            try:
                resp = await self._chat(req, call, cut)
            except Exception:
                # Ended on its own terms: said, or the next attempt counts this one as
                # possibly paid (activities/_cut.py). A request that got no answer back is
                # said to be still in flight, which is how the next attempt reads it.
                # The SDK sends this beat before the failure.
                details = beat_details(activity.info().attempt, cut, in_flight=call.unanswered)
                activity.heartbeat(details)
                raise
            call.response(resp)
            return resp

    async def _chat(self, req: LlmRequest, call: LlmCall, cut: list[int]) -> LlmResponse:
        """One attempt: the request, a lease from the governor, the API call, the answer."""
        attempt = activity.info().attempt
        messages = await self._transcript(req.transcript_ref) + list(req.messages)
        kwargs = self._request(req, messages)
        # Beating already: on a fresh worker the first call may wait seconds for the
        # anthropic import (sdk()), longer than the 2 s heartbeat timeout.
        waiting = beat_details(attempt, cut, in_flight=False)
        client = await _heartbeating(self._sdk_client(), waiting)
        ticket, fallback_from = await self._lease(req, kwargs, call, waiting)
        raw = await self._create(client, kwargs, ticket, call, cut=cut)
        call.request_id(raw.headers.get("request-id"))
        try:
            msg = await raw.parse()
            settled, content = _settled_ok(msg.usage, raw.headers), _content(msg)
        except Exception as err:  # noqa: BLE001 - any shape the endpoint got wrong
            await self._settle(ticket, LeaseSettle(lease_id="", outcome="error"))
            raise malformed(err, attempt) from None
        await self._settle(ticket, settled)
        transcript_ref = None
        if req.keep_transcript:
            # An empty reply is no turn the API takes back: only a final assistant
            # message may be empty, and the loop asks on in a new user message.
            done = [*messages, *([Message(role="assistant", content=content)] if content else [])]
            data = _TRANSCRIPT.dump_json(done)
            transcript_ref = await asyncio.to_thread(self._store.put, data)
        return LlmResponse(
            id=msg.id,
            model=msg.model,
            content=content,
            stop_reason=msg.stop_reason,
            usage=usage_for(msg.model, msg.usage),
            attempt=attempt,
            simulated=self._simulated or raw.headers.get("x-simulator") is not None,
            transcript_ref=transcript_ref,
            fallback_from=fallback_from,
            cut_attempts=cut,
        )

    def _request(self, req: LlmRequest, messages: list[Message]) -> dict[str, Any]:
        """The Messages API's arguments: the conversation, the tools by name, cache breakpoints."""
        kwargs: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens,
            "system": req.system,
            "messages": [m.model_dump(mode="json") for m in messages],
        }
        tools = list(req.tools)
        for name in req.tool_names or []:
            # File tools, and MCP tools from this worker's catalogue (agentfleet/mcp).
            spec = resolve_tool(name)
            if spec is None:
                raise ApplicationError(
                    f"unknown tool {name!r}", type="UnknownTool", non_retryable=True
                )
            tools.append(spec)
        if tools:
            kwargs["tools"] = [_tool_json(t) for t in tools]
            if req.tool_choice is not None:
                kwargs["tool_choice"] = req.tool_choice
        if self._prompt_cache:
            add_breakpoints(kwargs)
        return kwargs

    async def _create(
        self,
        client: Any,
        kwargs: dict[str, Any],
        ticket: Ticket | None,
        call: LlmCall,
        *,
        cut: list[int],
    ) -> Any:
        """The API call, beating while it is in flight; a failure settles the lease first."""
        attempt = call.attempt
        try:
            return await _heartbeating(
                client.messages.with_raw_response.create(**kwargs),
                beat_details(attempt, cut, in_flight=True),
            )
        except sdk().AnthropicError as err:
            # Answered, if only with an error, is not cut; a request that may have reached
            # the API with no answer back is (`chat` says which as it fails).
            if may_have_been_delivered(err):
                call.went_unanswered()
            await self._settle_failure(ticket, kwargs["model"], err)
            raise with_api_backoff(classify(err, self._key), attempt) from None
        except BaseException:
            await self._settle(ticket, LeaseSettle(lease_id="", outcome="error"))
            raise

    # --- the governor (activities/governor.py, agentfleet/governance) ---------

    async def _lease(
        self, req: LlmRequest, kwargs: dict[str, Any], call: LlmCall, waiting: dict[str, Any]
    ) -> tuple[Ticket | None, str | None]:
        """Wait for this call's share of the model's limits; None: not governed.

        While the model's breaker is open the call goes to its fallback model
        (set in `kwargs`, returned as `fallback_from`), or is retried by Temporal
        after the cool-down.
        """
        model = req.model
        limits = self._governor.limits_for(model)
        if limits is None:
            return None, None
        info = activity.info()
        priority = info.priority
        lease = LeaseRequest(
            lease_id=_lease_id(info),
            model=model,
            input_tokens=estimate_input_tokens(kwargs),
            output_tokens=req.max_tokens,
            priority=priority.priority_key or DEFAULT_PRIORITY,
            fairness_key=priority.fairness_key or "",
            limits=limits,
        )
        started = time.monotonic()
        ticket = await self._acquire(lease, info.task_queue, waiting)
        grant = ticket.grant
        if grant.granted:
            call.governed(grant.lease_id, time.monotonic() - started, None)
            return ticket, None
        fallback = self._governor.config.fallback(model)
        if grant.breaker_open and fallback and fallback != model:
            kwargs["model"] = fallback
            count_event(tn.LLM_FALLBACKS, model)
            fb_limits = self._governor.limits_for(fallback)
            if fb_limits is None:
                call.governed(None, time.monotonic() - started, model)
                return None, model
            fb = lease.model_copy(
                update={"lease_id": lease.lease_id + "/" + fallback, "model": fallback}
            )
            fb.limits = fb_limits
            fb_ticket = await self._acquire(fb, info.task_queue, waiting)
            if fb_ticket.grant.granted:
                call.governed(fb_ticket.grant.lease_id, time.monotonic() - started, model)
                return fb_ticket, model
            grant = fb_ticket.grant
        wait = timedelta(seconds=max(1.0, grant.retry_after_s))
        if grant.breaker_open:
            raise ApplicationError(
                f"{kwargs['model']} is overloaded: its circuit breaker is open for another "
                f"{grant.retry_after_s:.0f} s",
                type="LlmBreakerOpen",
                next_retry_delay=wait,
            )
        raise ApplicationError(
            f"the governor of {model} could not grant a lease",
            type="LlmGovernorBusy",
            next_retry_delay=wait,
        )

    async def _acquire(
        self, lease: LeaseRequest, task_queue: str, waiting: dict[str, Any]
    ) -> Ticket:
        """Wait (beating) for this call's lease, or give up after MAX_LEASE_WAIT_S."""
        # A call that stops waiting (timed out, cancelled) leaves the worker's line; the
        # block asked for it serves the next call, or goes back unused.
        wait = asyncio.ensure_future(self._governor.lease(lease, task_queue))
        try:
            return await _heartbeating(asyncio.wait_for(wait, MAX_LEASE_WAIT_S), waiting)
        except TimeoutError:
            raise ApplicationError(
                f"waited {MAX_LEASE_WAIT_S:.0f} s for a lease on {lease.model}; trying again",
                type="LlmGovernorBusy",
                next_retry_delay=timedelta(seconds=1),
            ) from None

    async def _settle(self, ticket: Ticket | None, s: LeaseSettle) -> None:
        if ticket is not None:
            await self._governor.finish(ticket, s)

    async def _settle_failure(self, ticket: Ticket | None, model: str, err: Exception) -> None:
        anthropic = sdk()
        status = err.status_code if isinstance(err, anthropic.APIStatusError) else None
        if status == 429:
            count_event(tn.LLM_RATE_LIMITED, model)
        elif status == 529:
            count_event(tn.LLM_OVERLOADED, model)
        if ticket is None:
            return
        headers = err.response.headers if isinstance(err, anthropic.APIStatusError) else None
        outcome = {429: "429", 529: "529"}.get(status or 0, "error")
        await self._settle(
            ticket,
            LeaseSettle(
                lease_id="",
                outcome=outcome,
                headers=rate_headers(headers, datetime.now(UTC)),
            ),
        )

    async def _transcript(self, ref: str | None) -> list[Message]:
        if ref is None:
            return []
        try:
            data = await asyncio.to_thread(self._store.get, ref)
        except BlobMissing as err:
            # Retrying cannot bring it back; the agent fails with the reason.
            raise ApplicationError(str(err), type="TranscriptMissing", non_retryable=True) from None
        return _TRANSCRIPT.validate_json(data)


def _settled_ok(usage: Any, headers: Any) -> LeaseSettle:
    """What a successful call used of the model's limits, and the limits the API reported."""
    return LeaseSettle(
        lease_id="",
        outcome="ok",
        # The API counts cache writes, not cache reads, against input tokens per minute.
        input_tokens=usage.input_tokens + (usage.cache_creation_input_tokens or 0),
        output_tokens=usage.output_tokens,
        headers=rate_headers(headers, datetime.now(UTC)),
    )


def _content(msg: Any) -> list[ContentBlock]:
    """The answer's text and tool calls as agentfleet's blocks (other kinds are dropped)."""
    content: list[ContentBlock] = []
    for block in msg.content:
        if block.type == "text":
            content.append(TextBlock(text=block.text))
        elif block.type == "tool_use":
            content.append(ToolUseBlock(id=block.id, name=block.name, input=_tool_input(block)))
    return content


def _tool_input(block: Any) -> dict[str, Any]:
    """A tool call's arguments, as the object they stand for.

    Some compatible servers send them as a JSON string, or null for none; anything
    else is malformed.
    """
    raw = block.input
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise TypeError(f"tool_use {block.name!r} has input of type {type(raw).__name__}")
    return dict(raw)


# A reply the endpoint got wrong (not JSON, no usage, a block of the wrong shape) may be a
# proxy's passing fault: asked again twice, then the call fails with what was wrong.
MALFORMED_ATTEMPTS = 3


def malformed(err: Exception, attempt: int) -> ApplicationError:
    """The error for a reply that is not a Messages API message, retried only a few times."""
    what = f"{type(err).__name__}: {err}"[:300]
    return ApplicationError(
        f"the model endpoint returned a malformed reply (attempt {attempt} of "
        f"{MALFORMED_ATTEMPTS}): {what}",
        type="MalformedReply",
        non_retryable=attempt >= MALFORMED_ATTEMPTS,
    )
