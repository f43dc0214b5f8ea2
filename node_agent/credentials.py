"""The node's identity: node id and credential, obtained once with a join token and stored in
DATA_DIR/credential.json (owner-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from node_agent.errors import ConfigError
from node_agent.state import DataDir, read_private, write_private


@dataclass(frozen=True)
class Credential:
    """What RegisterNode returned; `secret` authenticates every later call."""

    node_id: str
    secret: str

    @property
    def metadata(self) -> tuple[tuple[str, str]]:
        """gRPC call metadata carrying the credential."""
        return (("authorization", f"Bearer {self.secret}"),)


def load_credential(data_dir: DataDir) -> Credential | None:
    """The stored credential, None if there is none; ConfigError if the file is damaged."""
    path = data_dir.credential
    try:
        data = read_private(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if data is None:
        return None
    try:
        doc = json.loads(data)
        node_id, secret = doc["node_id"], doc["credential"]
    except (ValueError, TypeError, KeyError):
        node_id = secret = None
    if not isinstance(node_id, str) or not isinstance(secret, str) or not node_id or not secret:
        raise ConfigError(
            f"{path} is damaged; delete it and start again with a new --join-token "
            "(NodeService.CreateJoinToken)"
        )
    return Credential(node_id, secret)


def save_credential(data_dir: DataDir, credential: Credential) -> None:
    """Store the credential (owner-only, atomically)."""
    doc = {"node_id": credential.node_id, "credential": credential.secret}
    write_private(data_dir.credential, json.dumps(doc, indent=2).encode() + b"\n")
