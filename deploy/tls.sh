#!/bin/sh
# compose.yaml's `tls` service: `sh tls.sh python -m server.tls`. On every `docker compose up`
# it fills two volumes, as ./start fills DATA_DIR/tls (scripts/local_tls.py):
#   `tls` (here CAMFLEET_TLS_DIR; Envoy and the control planes mount it):
#     - the local CA, ca.pem and its key ca-key.pem (0600), made on the first run, reused
#       after: it signs the leaves below and, in the control planes, each node's certificate
#       at join (CAMFLEET_NODE_CA_*), so it is made even when Envoy presents the operator's own;
#     - agent-listener.pem: the control planes' TLS listeners for node agents, for
#       `control-plane` (the network alias of both replicas, what agents dial),
#       control-plane-1/-2 and CAMFLEET_PUBLIC_HOST;
#     - Envoy's edge.pem: the operator's own when OWN (./deploy/tls-own, read-only) holds
#       edge.pem and edge-key.pem (checked to belong together, copied in as they are), else the
#       local CA's for CAMFLEET_PUBLIC_HOST and `envoy`; edge-ca.pem is what verifies it (the
#       operator's ca.pem, else their certificate itself; the local CA's otherwise).
#   `node-tls` (here CAMFLEET_NODE_TLS_DIR; the node agents mount only this one, never the CA's
#   key): ca.pem, which authenticates the control planes, and node-http.pem, the node's HTTPS
#   (HLS, WHEP, downloads) for CAMFLEET_PUBLIC_HOST and `node-agent`.
# Leaves are issued again only when their names change or they near expiry.
# Browsers and `camfleet --ca` trust ca.pem: `docker compose cp tls:/tls/ca.pem .` (README).
set -eu
dir="${CAMFLEET_TLS_DIR:-/tls}"
node_dir="${CAMFLEET_NODE_TLS_DIR:-/node-tls}"
own="${CAMFLEET_TLS_OWN_DIR:-/own}"
host="${CAMFLEET_PUBLIC_HOST:?set CAMFLEET_PUBLIC_HOST}"
# Envoy's image runs Envoy as its own user (uid 101), which must read its key.
envoy_uid="${CAMFLEET_ENVOY_UID:-101}"

# An earlier version put the operator's CA at ca.pem, with no local CA key beside it.
if [ -e "$dir/ca.pem" ] && [ ! -e "$dir/ca-key.pem" ]; then
  rm "$dir/ca.pem"
fi
"$@" "$dir" control-plane control-plane-1 control-plane-2 "$host" --name agent-listener > /dev/null

if [ -s "$own/edge.pem" ] && [ -s "$own/edge-key.pem" ]; then
  ca="$own/edge.pem"
  [ -s "$own/ca.pem" ] && ca="$own/ca.pem"
  "$@" "$dir" --cert "$own/edge.pem" --key "$own/edge-key.pem" --ca "$ca" > /dev/null
  umask 077
  cp "$own/edge-key.pem" "$dir/edge-key.pem.new"
  umask 022
  cp "$own/edge.pem" "$dir/edge.pem.new"
  cp "$ca" "$dir/edge-ca.pem.new"
  for f in edge-key.pem edge.pem edge-ca.pem; do mv "$dir/$f.new" "$dir/$f"; done
  echo "TLS: the operator's certificate from $own/edge.pem"
else
  "$@" "$dir" "$host" envoy localhost 127.0.0.1 --name edge > /dev/null
  cp "$dir/ca.pem" "$dir/edge-ca.pem.new"
  mv "$dir/edge-ca.pem.new" "$dir/edge-ca.pem"
  echo "TLS: $dir/edge.pem for $host, signed by the local CA $dir/ca.pem (trust that file)"
fi

# The node's HTTPS certificate, signed by the same CA (made in `tls`, where the CA's key is),
# then copied with the CA certificate alone into the nodes' volume.
"$@" "$dir" "$host" node-agent localhost 127.0.0.1 --name node-http > /dev/null
mkdir -p "$node_dir"
umask 077
cp "$dir/node-http-key.pem" "$node_dir/node-http-key.pem.new"
umask 022
cp "$dir/node-http.pem" "$node_dir/node-http.pem.new"
cp "$dir/ca.pem" "$node_dir/ca.pem.new"
for f in node-http-key.pem node-http.pem ca.pem; do mv "$node_dir/$f.new" "$node_dir/$f"; done
echo "TLS: $node_dir/node-http.pem for the nodes' HTTPS ($host), signed by the local CA"

if [ "$(id -u)" = 0 ]; then
  chown "$envoy_uid" "$dir/edge-key.pem"
  # The control planes and agents run as the image's camfleet user: the control planes read
  # the agent listener's key and the CA's (to sign node certificates), the agents their HTTPS key.
  if id camfleet > /dev/null 2>&1; then
    chown camfleet "$dir/ca-key.pem" "$dir/agent-listener-key.pem" "$node_dir/node-http-key.pem"
  fi
fi
