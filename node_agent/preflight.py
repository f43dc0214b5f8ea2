"""What the agent checks before it starts anything: its data directory exists and is private
(with the account nginx's workers run as), it has a credential or a join token, and every
address it will listen on can be bound. Each failure is one sentence naming the flag to change."""

from __future__ import annotations

import logging
import os

from node_agent.config import AgentConfig
from node_agent.credentials import Credential, load_credential
from node_agent.errors import ConfigError, StartupError
from node_agent.nginx.access import WorkerAccount, open_data_dir, worker_account
from node_agent.nginx.runner import ensure_can_bind
from node_agent.nginx.stale import end_stale_nginx
from node_agent.state import DataDir

log = logging.getLogger(__name__)


def prepare(config: AgentConfig, data_dir: DataDir) -> tuple[WorkerAccount, Credential | None]:
    """The nginx worker account and the stored credential (None: the join token registers)."""
    try:
        data_dir.create()
        worker = worker_account(data_dir.root, *([config.warm_dir] if config.warm_dir else []))
        open_data_dir(data_dir.root, worker)
    except OSError as exc:
        raise StartupError(f"cannot create --data-dir {config.data_dir}: {exc}") from None
    credential = load_credential(data_dir)
    if credential is None and not config.join_token:
        raise ConfigError(
            f"this node has no credential ({data_dir.credential}) and no join token: "
            "create one with NodeService.CreateJoinToken and start the agent with "
            "--join-token TOKEN (or CAMFLEET_JOIN_TOKEN)"
        )
    if credential is not None and config.join_token:
        log.info("using the stored credential of node %s; --join-token ignored", credential.node_id)
    for flag, path in (
        ("--http-tls-cert", config.http_tls_cert),
        ("--http-tls-key", config.http_tls_key),
    ):
        # nginx would fail on it with a line in its own log: say it here, naming the flag.
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(f"{flag} {path}: no such file, or this agent cannot read it")
    # An nginx worker a SIGKILL of the last run missed still holds its ports: end it first.
    end_stale_nginx(data_dir.nginx)
    ensure_can_bind("--rtmp-listen", config.rtmp_listen)
    ensure_can_bind("--http-listen", config.http_listen)
    if config.ingest_listen is not None:
        ensure_can_bind("--ingest-listen", config.ingest_listen)
    if config.metrics_listen is not None:
        ensure_can_bind("--metrics-listen", config.metrics_listen)
    return worker, credential
