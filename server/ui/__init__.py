"""The browser UI's static files (clients/web/dist), served on loopback behind Envoy.

Envoy cannot serve a directory, so its catch-all route sends every non-gRPC path here. Shipped
in the same package and image as the control plane so compose and `./start` run the one module.
"""
