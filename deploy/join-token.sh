#!/bin/sh
# compose.yaml's `join-token` service: `sh join-token.sh python -m server create-join-token`.
# Every `docker compose up` runs it again, and each run writes a fresh single-use join token
# (valid for an hour) to CAMFLEET_JOIN_TOKEN_FILE for a node agent that has not registered
# yet, so an agent first started a day after the stack was created still gets one that works;
# a registered node (its credential in CAMFLEET_AGENT_DATA_DIR) needs none and gets none.
# The token goes to the file only, never to the output (`docker compose logs`).
set -eu
token_file="${CAMFLEET_JOIN_TOKEN_FILE:-/shared/join-token}"
credential="${CAMFLEET_AGENT_DATA_DIR:-/data/node}/credential.json"

if [ -s "$credential" ]; then
  echo "the node agent is registered already: no join token made"
  exit 0
fi
umask 077
"$@" > "$token_file.new"
# The agent's container runs as the image's camfleet user; this one runs as root to write to
# the shared volume.
if [ "$(id -u)" = 0 ] && id camfleet > /dev/null 2>&1; then
  chown camfleet "$token_file.new"
fi
# Renamed into place: the agent, which may be waiting for it, never reads half a token.
mv "$token_file.new" "$token_file"
echo "a new join token for the node agent is in $token_file (valid for an hour, used once)"
