#!/bin/sh
# One-shot namespace job, run by docker-compose.yml in temporalio/admin-tools
# once the server is healthy. Safe to re-run: an existing namespace gets its
# retention updated, an existing search attribute is left alone.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${SEARCH_ATTRIBUTES:?}"
: "${NAMESPACE:=default}" "${NAMESPACE_RETENTION:=192h}"

until temporal operator cluster health 2>/dev/null | grep -q SERVING; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"
  sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION"
fi

# A new namespace reaches every frontend's cache a little after it is created.
until temporal operator search-attribute list --namespace "$NAMESPACE" >/dev/null 2>&1; do
  echo "waiting for namespace $NAMESPACE"
  sleep 1
done

existing=$(temporal operator search-attribute list --namespace "$NAMESPACE")
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  kind=${pair#*=}
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$NAMESPACE" \
      --name "$name" --type "$kind"
  fi
done
echo "namespace $NAMESPACE ready (retention $NAMESPACE_RETENTION)"
