#!/usr/bin/env bash
# Install what this machine lacks for camfleet: Debian packages, the Python environment (from
# uv.lock) and npm packages (from package-lock.json). Safe to run again: it only adds what is
# missing. Builds the browser UI (clients/web/dist) when it is missing or older than its sources.
# Sourced by ./start and ./test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

# Python here may be told never to write bytecode (PYTHONDONTWRITEBYTECODE=1 in the environment
# of these machines): every process then compiles everything it imports, ~3 s of CPU for the
# control plane or an agent, paid again by each of the hundreds the suite starts. The caches go
# to the usual __pycache__ directories (ignored by git and Docker).
unset PYTHONDONTWRITEBYTECODE

log() { printf '\033[1m[camfleet]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

APT_UPDATED=0
apt_install() {
  # Only the packages that are not installed yet; `apt-get update` once, when needed.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "please install: ${missing[*]} (no apt-get on this machine)"; return 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1
  fi
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_system() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    log "camfleet needs Python 3.11 or newer (found $(python3 --version))"; exit 1; }
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  command -v npm >/dev/null || apt_install nodejs npm
  # The node agent's media stack: nginx with the RTMP module (ingest, live HLS) and ffmpeg.
  apt_install nginx libnginx-mod-rtmp ffmpeg
  # Pull cameras' tests read a real RTSP camera: GStreamer's RTSP server (harness/rtsp_source.py)
  # run by Debian's python3, x264enc from -ugly.
  apt_install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-ugly
  # Alert SMS tests run a real Kannel gateway (bearerbox + smsbox) with kannel-extras' fakesmsc
  # as the carrier (harness/kannel.py).
  apt_install kannel kannel-extras
  # Metrics tests scrape the control plane and an agent with a real Prometheus; report tests
  # render the PDFs to PNG with poppler's pdftoppm.
  apt_install prometheus poppler-utils
  # The Go client (clients/go) builds offline in GOPATH mode from Debian's Go packages; the
  # golang-protobuf 1.5 package, not the default 1.3 (which panics at run time). genproto has the
  # google.rpc error details the client decodes; libprotobuf-dev the well-known .protos protoc reads.
  apt_install golang-go golang-google-grpc-dev protoc-gen-go protoc-gen-go-grpc \
    golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev protobuf-compiler \
    golang-google-genproto-dev libprotobuf-dev
  # Browser tests drive Debian's chromium through Playwright (never a downloaded browser).
  apt_install chromium
}

ensure_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -x "$VENV/bin/uv" ]; then
    "$VENV/bin/python" -m pip install -q uv
  fi
  # --frozen: exactly the versions in uv.lock; the project itself is installed editable.
  (cd "$ROOT" && UV_PROJECT_ENVIRONMENT="$VENV" "$VENV/bin/uv" sync -q --frozen --extra dev \
    --python "$VENV/bin/python")
}

npm_ci() {
  # `npm ci` in $1 when its node_modules is missing or older than its package-lock.json.
  local dir="$1"
  if [ ! -f "$dir/package-lock.json" ]; then
    log "no package-lock.json in ${dir#"$ROOT"/}: skipped"; return 0
  fi
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

ensure_npm() {
  npm_ci "$ROOT/clients/typescript"
  npm_ci "$ROOT/clients/web"
}

ensure_ui() {
  # The UI's static files (served through Envoy by ./start): rebuilt when dist is missing or
  # anything it is built from changed since.
  local web="$ROOT/clients/web"
  if [ ! -f "$web/package.json" ]; then
    log "no clients/web/package.json yet: the browser UI is not built"; return 0
  fi
  local stamp="$web/dist/index.html"
  if [ -f "$stamp" ] && [ -z "$(find "$web/src" "$web/public" "$web/index.html" "$web/package-lock.json" \
      "$web"/vite.config.* "$web"/tsconfig*.json "$ROOT/clients/typescript/src" \
      -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    return 0
  fi
  log "building the browser UI (clients/web/dist)"
  (cd "$web" && npm run --silent build >/dev/null) || {
    log "the browser UI did not build (see above): fix clients/web or run npm run build there"; return 1; }
}

bootstrap() {
  ensure_system
  ensure_python
  ensure_npm
  ensure_ui
}
