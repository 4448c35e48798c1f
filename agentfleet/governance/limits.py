"""Governor configuration from the environment: limits per model, leases, breaker.

    AGENTFLEET_RATE_LIMITS   JSON: {"<model>" or "*": {"rpm": 50, "itpm": 30000,
                             "otpm": 8000, "max_in_flight": 20, "burst_s": 6,
                             "headroom": 0.1}}
    AGENTFLEET_GOV_RPM / AGENTFLEET_GOV_ITPM / AGENTFLEET_GOV_OTPM
                             shorthand for the "*" entry (every model)
    AGENTFLEET_GOV_LEASE_TTL_S   a lease not settled by then is expired (300)
    AGENTFLEET_BREAKER_THRESHOLD / _WINDOW_S / _COOLDOWN_S
                             that many 529s within the window open the breaker
                             for the cool-down (5 / 30 / 30)
    AGENTFLEET_FALLBACK_MODELS   JSON {"<model>": "<fallback model>"}: what a
                             tier's model hands over to while its breaker is open
    AGENTFLEET_GOV_SCOPE     a name put into the governors' workflow ids, for fleets
                             (or tests) that share a Temporal namespace but not an
                             Anthropic organisation
    AGENTFLEET_GOVERNOR=off  no governor even with limits set

No limits configured means no governor: every LLM call goes straight out, as
before. A model without its own entry uses "*".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agentfleet.delegation.catalog import is_known_model, unknown_model_message
from agentfleet.governance.models import ModelLimitsSpec

GOVERNOR_PREFIX = "agentfleet-governor-"

_SHORT = {
    "rpm": "requests_per_minute",
    "itpm": "input_tokens_per_minute",
    "otpm": "output_tokens_per_minute",
    "max_in_flight": "max_in_flight",
    "burst_s": "burst_s",
    "headroom": "headroom",
}


class GovernorConfigError(ValueError):
    """A bad governor setting; the message names the variable and the field."""


def governor_id(model: str, scope: str = "") -> str:
    """The one governor workflow id per model (shared by every worker)."""
    return GOVERNOR_PREFIX + (f"{scope}-" if scope else "") + model


ModelLimits = ModelLimitsSpec


@dataclass(frozen=True)
class GovernorConfig:
    """The worker's governor settings, read once from the environment (see the module doc)."""

    limits: dict[str, ModelLimitsSpec] = field(default_factory=dict)
    """Limits per model name, `"*"` for every model without its own entry."""
    fallbacks: dict[str, str] = field(default_factory=dict)
    """The model a tier hands over to while its own model's breaker is open."""
    enabled: bool = True
    """False (`AGENTFLEET_GOVERNOR=off`): no governor even with limits set."""
    scope: str = ""
    """Put into the governors' workflow ids, for fleets sharing a namespace but not limits."""

    def governor_id(self, model: str) -> str:
        """This fleet's governor workflow id for `model` (its scope included)."""
        return governor_id(model, self.scope)

    def for_model(self, model: str) -> ModelLimitsSpec | None:
        """The limits governing `model`, or None when its calls go straight out."""
        if not self.enabled:
            return None
        return self.limits.get(model) or self.limits.get("*")

    def fallback(self, model: str) -> str | None:
        """The model to use while `model`'s breaker is open, if one is configured."""
        return self.fallbacks.get(model)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> GovernorConfig:
        """Read the settings from `env` (the process environment by default).

        Raises:
            GovernorConfigError: a setting is malformed; the message names it.
        """
        e = dict(os.environ if env is None else env)
        enabled = e.get("AGENTFLEET_GOVERNOR", "on").strip().lower() not in ("off", "0", "false")
        common: dict[str, Any] = {
            "lease_ttl_s": _number(e, "AGENTFLEET_GOV_LEASE_TTL_S", default=300.0, low=1.0),
            "breaker_threshold": int(_number(e, "AGENTFLEET_BREAKER_THRESHOLD", default=5, low=1)),
            "breaker_window_s": _number(e, "AGENTFLEET_BREAKER_WINDOW_S", default=30.0, low=0.1),
            "breaker_cooldown_s": _number(
                e, "AGENTFLEET_BREAKER_COOLDOWN_S", default=30.0, low=0.1
            ),
        }
        raw: dict[str, dict[str, Any]] = {}
        short = {
            k: int(_number(e, f"AGENTFLEET_GOV_{k.upper()}", default=0, low=1))
            for k in ("rpm", "itpm", "otpm")
            if e.get(f"AGENTFLEET_GOV_{k.upper()}", "").strip()
        }
        if short:
            raw["*"] = short
        raw.update(_json_object(e, "AGENTFLEET_RATE_LIMITS"))
        limits = {m: _limits(m, spec, common) for m, spec in raw.items()}
        fallbacks = _json_object(e, "AGENTFLEET_FALLBACK_MODELS")
        for model, target in fallbacks.items():
            if not isinstance(target, str) or not target:
                raise GovernorConfigError(
                    f"AGENTFLEET_FALLBACK_MODELS[{model!r}] must be a model name, got {target!r}"
                )
            if not is_known_model(target):
                raise GovernorConfigError(
                    f"AGENTFLEET_FALLBACK_MODELS[{model!r}]: {unknown_model_message(target)}"
                )
        scope = e.get("AGENTFLEET_GOV_SCOPE", "").strip()
        return cls(limits=limits, fallbacks=dict(fallbacks), enabled=enabled, scope=scope)


def env_number(
    env: Mapping[str, str],
    name: str,
    *,
    default: float,
    low: float,
    high: float = math.inf,
    wording: EnvWording,
) -> float:
    """The number in variable `name`, `default` when unset or blank.

    One parser for every numeric setting, so each is read the same way (blank is
    unset, NaN is refused); `wording` keeps each setting's own error message.
    """
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise wording.error(wording.not_a_number.format(name=name, raw=text)) from None
    if not low <= value <= high:
        message = wording.out_of_range.format(name=name, raw=text, low=low, high=high)
        raise wording.error(message)
    return value


@dataclass(frozen=True)
class EnvWording:
    """How a group of settings words a bad value, and the error it raises."""

    not_a_number: str
    """Template with `{name}` and `{raw}`: the text is not a number."""
    out_of_range: str
    """Template with `{name}`, `{raw}`, `{low}` and `{high}`: the number is out of bounds."""
    error: type[ValueError] = ValueError
    """The exception raised, so callers catch what they always caught."""


_GOVERNOR_WORDING = EnvWording(
    not_a_number="{name} must be a number, got {raw!r}",
    out_of_range="{name} must be at least {low:g}, got {raw!r}",
    error=GovernorConfigError,
)


def _number(e: dict[str, str], name: str, *, default: float, low: float) -> float:
    return env_number(e, name, default=default, low=low, wording=_GOVERNOR_WORDING)


def _json_object(e: dict[str, str], name: str) -> dict[str, Any]:
    text = e.get(name, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise GovernorConfigError(f"{name} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise GovernorConfigError(f"{name} must be a JSON object keyed by model")
    return value


def _limits(model: str, spec: Any, common: dict[str, Any]) -> ModelLimitsSpec:
    where = f"AGENTFLEET_RATE_LIMITS[{model!r}]"
    if not isinstance(spec, dict):
        raise GovernorConfigError(f'{where} must be an object like {{"rpm": 50}}')
    values = dict(common)
    for key, value in spec.items():
        name = _SHORT.get(key, key)
        if name not in ModelLimitsSpec.model_fields:
            allowed = ", ".join(sorted(_SHORT))
            raise GovernorConfigError(f"{where}: unknown field {key!r} (allowed: {allowed})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise GovernorConfigError(f"{where}.{key} must be a positive number, got {value!r}")
        values[name] = value
    try:
        limits = ModelLimitsSpec(**values)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field_name = ".".join(str(p) for p in first["loc"])
        raise GovernorConfigError(f"{where}.{field_name}: {first['msg']}") from None
    if not any(
        (
            limits.requests_per_minute,
            limits.input_tokens_per_minute,
            limits.output_tokens_per_minute,
            limits.max_in_flight,
        )
    ):
        raise GovernorConfigError(f"{where} sets no limit (rpm, itpm, otpm or max_in_flight)")
    return limits
