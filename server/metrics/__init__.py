"""Prometheus metrics of the control plane: the fleet's state under `camfleet_` (domain.py),
read at scrape time from what this process already knows, and the /metrics listener (http.py).
An edge package: it reads every domain; nothing but app.py imports it."""
