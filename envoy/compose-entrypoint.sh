#!/bin/sh
# compose.yaml's Envoy: envoy.yaml with this deployment's allowed CORS origins, then Envoy.
#   CAMFLEET_PUBLIC_HOST   the host browsers open (the UI's own origin: https://HOST:8080)
#   CAMFLEET_CORS_ORIGINS  origins of other sites' pages that may call the API, comma-separated
#                          scheme://host[:port] (never `null` or a wildcard: refused here)
# ENVOY_TEMPLATE / ENVOY_CONFIG move the input and output (tests/security/test_edge.py). The
# TLS listener reads its certificate from /etc/camfleet/tls (the `tls` volume, deploy/tls.sh).
set -eu
template="${ENVOY_TEMPLATE:-/etc/envoy/envoy.yaml}"
config="${ENVOY_CONFIG:-/tmp/envoy.yaml}"

checked() {
  case "$1" in
    http://*|https://*) ;;
    *) echo "CAMFLEET_CORS_ORIGINS: '$1' is not an http(s) origin" >&2; exit 1 ;;
  esac
  # Host and port only: no path, no wildcard, nothing sed or YAML would read as syntax.
  case "$1" in
    *://*/*|*[!A-Za-z0-9.:/-]*)
      echo "CAMFLEET_CORS_ORIGINS: '$1' is not scheme://host[:port]" >&2; exit 1 ;;
  esac
  printf '%s' "$1"
}

origins="{ exact: \"$(checked "https://${CAMFLEET_PUBLIC_HOST:-localhost}:8080")\" }"
for origin in $(printf '%s' "${CAMFLEET_CORS_ORIGINS:-}" | tr ',' ' '); do
  origins="$origins, { exact: \"$(checked "$origin")\" }"
done
sed "s|allow_origin_string_match: .*|allow_origin_string_match: [$origins]|" "$template" > "$config"
exec envoy -c "$config" "$@"
