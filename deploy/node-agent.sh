#!/bin/sh
# compose.yaml's node agent: `sh node-agent.sh python -m node_agent`.
# With a stored credential (CAMFLEET_AGENT_DATA_DIR) the agent just runs. A node not yet
# registered joins with the single-use token the `join-token` service left in
# CAMFLEET_JOIN_TOKEN_FILE. A token the control plane refuses (expired: it lives an hour; used;
# revoked) is not retried: the agent's own line says why (exit status 3), this script says
# how to get a new one, and waits for it; `docker compose up -d` writes one (it runs the
# `join-token` service again) and the agent joins with it, without a restart loop.
# The token is handed over in the agent's environment only, never printed.
# CAMFLEET_CONTROL_PLANE_MTLS is dropped for a node registered before it had a certificate.
set -u
token_file="${CAMFLEET_JOIN_TOKEN_FILE:-/shared/join-token}"
data_dir="${CAMFLEET_AGENT_DATA_DIR:-/data/node}"
credential="$data_dir/credential.json"
# The agent's exit status when the control plane refused its join token (node_agent/errors.py).
REFUSED=3

agent=""
stopping=""
# This shell is PID 1 in the container: pass `docker compose stop` on to the agent.
trap 'stopping=1; [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null' TERM INT

token_stamp() {
  cksum < "$token_file" 2> /dev/null || true
}

# Runs the agent with the token; its exit status (waiting again after a forwarded signal).
run_agent() {
  CAMFLEET_JOIN_TOKEN="$(cat "$token_file")" "$@" &
  agent=$!
  while :; do
    wait "$agent"
    status=$?
    kill -0 "$agent" 2> /dev/null || return "$status"
  done
}

if [ -s "$credential" ]; then
  # Registered before compose issued node certificates (none in the data directory): as
  # ./start, it keeps one-way TLS rather than failing on mutual TLS at every restart.
  if [ -n "${CAMFLEET_CONTROL_PLANE_MTLS:-}" ] && [ ! -s "$data_dir/node-cert.pem" ]; then
    echo "node-agent: this node registered without a node certificate, so it connects over" \
      "TLS without one; the control planes must run with CAMFLEET_REQUIRE_NODE_CERTS=false" \
      "until it joins again (delete the node and its credential.json, then" \
      "\`docker compose up -d\`)" >&2
    unset CAMFLEET_CONTROL_PLANE_MTLS
  fi
  exec "$@"
fi
announced=""
while [ ! -s "$token_file" ]; do
  [ -n "$stopping" ] && exit 0
  [ -n "$announced" ] || echo "node-agent: waiting for a join token in $token_file" >&2
  announced=1
  sleep 2
done
while :; do
  tried="$(token_stamp)"
  run_agent "$@"
  status=$?
  if [ "$status" -ne "$REFUSED" ] || [ -n "$stopping" ] || [ -s "$credential" ]; then
    exit "$status"
  fi
  echo "node-agent: this node is not registered and the control plane refused the join token" \
    "in $token_file (the reason is on the line above; a token lives an hour and is used once)." \
    "Waiting for a new one: run \`docker compose up -d\` (its join-token service writes one)" \
    "or \`docker compose run --rm join-token\`." >&2
  while [ "$(token_stamp)" = "$tried" ]; do
    [ -n "$stopping" ] && exit 0
    sleep 2
  done
  echo "node-agent: a new join token arrived; joining with it" >&2
done
