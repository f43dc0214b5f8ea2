"""What an agent says when it connects, and what the registry knew of its node then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.db.models import NodeRow


@dataclass(frozen=True)
class NodeHello:
    """What an agent says about itself when it connects."""

    version: str
    capacity: int
    rtmp_url: str
    http_url: str
    # CPU cores it may use; 0: not said (an older agent).
    cpu_cores: float = 0.0


@dataclass(frozen=True)
class Connected:
    """A node just connected, and what was known of it before."""

    row: NodeRow
    # READY when it connected: neither declared lost nor gone offline with a goodbye.
    was_ready: bool
    # Its last heartbeat as last persisted (NodeRegistry.touch); None if it never had one.
    last_heartbeat_at: datetime | None
