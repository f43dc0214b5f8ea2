"""Alerting: rules over the fleet's events and metrics, alerts, silences, notification policies,
channels and the delivery of notifications (see model.py for how the parts meet)."""
