"""AlertService: rules, alerts, silences, channels, policies and the delivery log (thin: check
input, call the domain, map the result; see server/cameras/servicer.py). One class composed of
an area's methods each: servicer_rules.py (rules, alerts), servicer_silences.py (silences,
policies), servicer_channels.py (channels, the delivery log); what they call is
servicer_ports.py."""

from __future__ import annotations

from camfleet.v1 import alert_pb2_grpc

from server.alerts.servicer_channels import ChannelsMixin
from server.alerts.servicer_ports import AlertPorts
from server.alerts.servicer_rules import RulesMixin
from server.alerts.servicer_silences import SilencesMixin


class AlertServicer(RulesMixin, SilencesMixin, ChannelsMixin, alert_pb2_grpc.AlertServiceServicer):
    """camfleet.v1.AlertService over the alerting domain."""

    def __init__(self, ports: AlertPorts) -> None:
        self._ports = ports
