#!/bin/sh
# Without a key and without an explicit endpoint, point the worker at the
# stack's simulator service: the code's own fallback is 127.0.0.1, which is the
# container itself. A configured key is never sent to the simulator.
set -eu
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${ANTHROPIC_BASE_URL:-}" ] && [ -n "${AGENTFLEET_SIM_HOST:-}" ]; then
  ANTHROPIC_BASE_URL="http://${AGENTFLEET_SIM_HOST}:${AGENTFLEET_SIM_PORT:-8787}"
  export ANTHROPIC_BASE_URL
fi
exec "$@"
