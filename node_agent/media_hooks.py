"""The ladder, WHEP and cold-tier hooks of the agent (kept here so node_agent.agent stays a list
of parts, as node_agent.ladder.wiring and node_agent.webrtc.wiring are): the WHEP endpoint,
the ladders once nginx and the recorders run, both on the agent's API, the cold tier's
settings carried to the recorders, and their stop before the recorders'."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from node_agent.assignment import CurrentAssignment
from node_agent.config import AgentConfig
from node_agent.desired import ColdStorage
from node_agent.grants import GrantCheck
from node_agent.ladder.http import SignatureCheck
from node_agent.ladder.manager import LadderManager
from node_agent.ladder.wiring import add_ladder_routes, ladder_manager
from node_agent.nginx.runner import NginxRunner
from node_agent.playback_auth import PlaybackSecret
from node_agent.recording.manager import RecordingManager
from node_agent.state import DataDir
from node_agent.streams import StreamTracker
from node_agent.webrtc.endpoint import WhepEndpoint
from node_agent.webrtc.wiring import whep_endpoint


class MediaHooks:
    """What the agent's ladders, WHEP endpoint and cold tier need from it, and their parts."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        play_token: Callable[[str], str],
        assignment: CurrentAssignment,
        streams: StreamTracker,
        data_dir: DataDir,
        recording: Callable[[], RecordingManager | None],
    ) -> None:
        self._config = config
        self._play_token = play_token
        self._assignment = assignment
        self._streams = streams
        self._data_dir = data_dir
        # The agent's recorders while they run (None before and after).
        self._recording = recording
        self.whep: WhepEndpoint | None = None
        self.ladders: LadderManager | None = None

    def open_whep(self, secret: PlaybackSecret, grants: GrantCheck) -> None:
        """The WHEP endpoint, before the API that serves it."""
        self.whep = whep_endpoint(
            self._config,
            play_token=self._play_token,
            secret=secret,
            grants=grants,
            streams=self._streams,
            log_dir=self._data_dir.root / "logs",
        )

    def add_routes(self, app: web.Application, signed: SignatureCheck) -> None:
        """/auth/abr (for whichever ladders run) and WHEP's routes on the agent's API."""
        add_ladder_routes(app, signed, lambda: self.ladders)
        if self.whep is not None:
            self.whep.add_routes(app)

    def start_ladders(self, nginx: NginxRunner, recording: RecordingManager) -> None:
        """The ladders, once nginx and the recorders run."""
        self.ladders = ladder_manager(
            self._config,
            nginx,
            play_token=self._play_token,
            assignment=self._assignment,
            streams=self._streams,
            data_dir=self._data_dir,
        )
        self.ladders.start()
        # A recording profile equal to a rung is recorded from the rung (one encode, not two).
        recording.rungs.source = self.ladders

    async def apply_cold(self, cold: ColdStorage | None) -> None:
        """A cold tier in force (None: none) reaches the recorders' cold mover."""
        recording = self._recording()
        if recording is not None:
            recording.cold.configure(cold)

    async def stop(self) -> None:
        """WHEP's sessions closed and the ladders stopped (before the recorders, which may
        record from a rung)."""
        if self.whep is not None:
            await self.whep.sessions.close_all()
        if self.ladders is not None:
            await self.ladders.stop()
            self.ladders = None
