"""TLS material: the local CA and the certificates it signs (server/tls/ca.py)."""
