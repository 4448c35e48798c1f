"""The master's final answer: its parts' reports summed up in one reply.

That reply is what a person reads as the goal's answer, so a half-written one is
no answer. Under PATCH_WHOLE_SYNTHESIS a reply cut off at max_tokens is asked
again with twice the room, up to the loop's ceiling. A reply still cut off
there, one that filled the context window, a refusal, or a call that failed
leaves the answer `short`: the master
ends `partial` with that reason, and the parts' own reports stand in the output
so nothing they did is hidden. The marker is written only when one of these
happens, so runs that never see one carry no extra event, and histories
recorded before it replay as they ran: the first reply taken as it came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import LlmRequest, LlmResponse, Message
    from agentfleet.delegation import prompts

from workflows._agent import Spend
from workflows._calls import failure_message
from workflows._loop import CONTEXT_FULL, MAX_TOKENS_CEILING

PATCH_WHOLE_SYNTHESIS = "agentfleet-whole-synthesis-1"
# A summary that came back empty is asked for once more; still empty, the answer is
# short. Its own marker, written only when an empty summary is seen.
PATCH_EMPTY_SYNTHESIS = "agentfleet-empty-synthesis-1"

Report = tuple[str, str, str]
"""(title, status, output) of one part."""


@dataclass(frozen=True)
class Synthesis:
    """The goal's answer, and why it is not whole (None when it is)."""

    text: str
    short: str | None = None


def listing(reports: Sequence[Report]) -> str:
    """Each part's report on a line: the answer when no summary could be had."""
    return "\n".join(f"- {t} [{s}]: {o}" for t, s, o in reports)


async def synthesize(
    goal: str,
    model: str,
    reports: Sequence[Report],
    spend: Spend,
    *,
    max_tokens: int,
    whole: bool,
) -> Synthesis:
    """One summary of the parts' reports; `whole`: the run checks real completion."""
    if spend.exhausted:
        return Synthesis("(budget exhausted before synthesis)\n" + listing(reports))
    room, retry, asked_again = max_tokens, 0, False
    while True:
        purpose = "synthesize" + (f" (retry {retry})" if retry else "")
        try:
            resp = await spend.call(_request(goal, model, reports, room, spend), purpose=purpose)
        except Exception as err:  # noqa: BLE001 - the parts' work stands without a summary
            said = failure_message(err)
            if whole and workflow.patched(PATCH_WHOLE_SYNTHESIS):
                return _short(f"the final answer could not be written: {said}", "", reports)
            return Synthesis(f"(synthesis failed: {said})")
        flaw = _flaw(resp)
        gate = PATCH_EMPTY_SYNTHESIS if flaw == "empty" else PATCH_WHOLE_SYNTHESIS
        if flaw is None or not whole or not workflow.patched(gate):
            return Synthesis(resp.text)
        if flaw == "empty" and not asked_again:
            asked_again, retry = True, retry + 1
            continue
        if flaw != "cut" or room >= MAX_TOKENS_CEILING:
            return _short(_why(flaw, resp), resp.text if flaw != "refused" else "", reports)
        room, retry = min(room * 2, MAX_TOKENS_CEILING), retry + 1


def _request(
    goal: str, model: str, reports: Sequence[Report], max_tokens: int, spend: Spend
) -> LlmRequest:
    return LlmRequest(
        model=model,
        system=prompts.SYNTHESIZER_SYSTEM,
        messages=[Message.user_text(prompts.synthesis_request(goal, reports))],
        max_tokens=max_tokens,
        root_id=spend.agent_id,
        agent_id=spend.agent_id,
    )


def _flaw(resp: LlmResponse) -> str | None:
    """What is wrong with a reply: cut off, refused, the window full, empty, or None."""
    if resp.stop_reason == "refusal":
        return "refused"
    if resp.stop_reason == CONTEXT_FULL:
        return "full"
    if resp.stop_reason == "max_tokens":
        return "cut"
    return "empty" if not resp.text.strip() else None


def _why(flaw: str, resp: LlmResponse) -> str:
    if flaw == "refused":
        said = resp.text.strip()[:300]
        return "the model refused to write the final answer" + (f": {said}" if said else "")
    if flaw == "full":
        return "the final answer filled the model's context window and stopped mid-way"
    if flaw == "empty":
        return "the final answer came back empty twice"
    return f"the final answer was cut off at the max_tokens ceiling ({MAX_TOKENS_CEILING})"


def _short(why: str, partial_text: str, reports: Sequence[Report]) -> Synthesis:
    """An answer that is not whole: what there is, the reason, and the parts' reports."""
    head = f"{partial_text.rstrip()}\n\n" if partial_text.strip() else ""
    return Synthesis(f"{head}({why}; the parts' reports follow)\n{listing(reports)}", short=why)
