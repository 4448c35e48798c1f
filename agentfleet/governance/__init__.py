"""Fleet-wide LLM governance: shared rate limits, priority and fairness, overload breaker.

Pure domain logic (no Temporal imports): `limits` reads the configuration,
`book` is the lease book a governor workflow keeps per model, `models` the
payloads that travel between the LLM activity and the governor. The workflow
(workflows/governor.py) only feeds the book the time and the messages; the
activity side (activities/governor.py) talks to it.
"""

from agentfleet.governance.book import LeaseBook
from agentfleet.governance.limits import GovernorConfig, ModelLimits, governor_id
from agentfleet.governance.models import (
    GovernorInput,
    GovernorStatus,
    LeaseGrant,
    LeaseRequest,
    LeaseSettle,
    RateHeaders,
)

__all__ = [
    "GovernorConfig",
    "GovernorInput",
    "GovernorStatus",
    "LeaseBook",
    "LeaseGrant",
    "LeaseRequest",
    "LeaseSettle",
    "ModelLimits",
    "RateHeaders",
    "governor_id",
]
