#!/usr/bin/env bash
# The test suite needs the PostgreSQL (trust auth) and Redis on 127.0.0.1. Start them if they
# are installed but stopped; otherwise say exactly what is missing.
set -euo pipefail
log() { printf '\033[1m[camfleet]\033[0m %s\n' "$*" >&2; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || {
    log "PostgreSQL is not reachable on 127.0.0.1:5432 (the tests need it, with trust auth for user postgres)"; exit 1; }
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
    sleep 1
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || {
    log "Redis is not reachable on 127.0.0.1:6379 (the tests need it)"; exit 1; }
fi
