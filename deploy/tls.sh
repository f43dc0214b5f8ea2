#!/bin/sh
# compose.yaml's `tls` service: `sh tls.sh python -m server.tls`. Fills the `tls` volume (here
# CAMFLEET_TLS_DIR) with what Envoy presents and what clients trust, on every `docker compose up`:
#   - the operator's own certificate, when OWN (./deploy/tls-own, mounted read-only) holds
#     edge.pem and edge-key.pem (and ca.pem when clients need a private CA to verify it):
#     checked to belong together, then copied in as they are;
#   - otherwise the local CA (ca.pem, its key ca-key.pem 0600; made on the first run, reused
#     after) and edge.pem for CAMFLEET_PUBLIC_HOST and `envoy` (what agents on the compose
#     network dial), issued again only when those names change or it nears expiry.
# Browsers and `camfleet --ca` trust ca.pem: `docker compose cp tls:/tls/ca.pem .` (README).
set -eu
dir="${CAMFLEET_TLS_DIR:-/tls}"
own="${CAMFLEET_TLS_OWN_DIR:-/own}"
host="${CAMFLEET_PUBLIC_HOST:?set CAMFLEET_PUBLIC_HOST}"
# Envoy's image runs Envoy as its own user (uid 101), which must read the key.
envoy_uid="${CAMFLEET_ENVOY_UID:-101}"

if [ -s "$own/edge.pem" ] && [ -s "$own/edge-key.pem" ]; then
  ca="$own/edge.pem"
  [ -s "$own/ca.pem" ] && ca="$own/ca.pem"
  "$@" "$dir" --cert "$own/edge.pem" --key "$own/edge-key.pem" --ca "$ca" > /dev/null
  umask 077
  cp "$own/edge-key.pem" "$dir/edge-key.pem.new"
  umask 022
  cp "$own/edge.pem" "$dir/edge.pem.new"
  cp "$ca" "$dir/ca.pem.new"
  for f in edge-key.pem edge.pem ca.pem; do mv "$dir/$f.new" "$dir/$f"; done
  echo "TLS: the operator's certificate from $own/edge.pem"
else
  "$@" "$dir" "$host" envoy localhost 127.0.0.1 --name edge > /dev/null
  echo "TLS: $dir/edge.pem for $host, signed by the local CA $dir/ca.pem (trust that file)"
fi
if [ "$(id -u)" = 0 ]; then
  chown "$envoy_uid" "$dir/edge-key.pem"
fi
