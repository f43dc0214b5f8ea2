"""The ladder's parts as the agent assembles them (kept here so node_agent.agent stays a list
of parts): the manager over nginx's layout, and its auth route on the agent's API."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from node_agent.assignment import CurrentAssignment
from node_agent.config import AgentConfig
from node_agent.ladder import http
from node_agent.ladder.manager import LadderManager
from node_agent.ladder.process import LadderSettings
from node_agent.nginx.config import loopback_rtmp
from node_agent.nginx.runner import NginxRunner
from node_agent.state import DataDir
from node_agent.streams import StreamTracker


def ladder_manager(
    config: AgentConfig,
    nginx: NginxRunner,
    *,
    play_token: Callable[[str], str],
    assignment: CurrentAssignment,
    streams: StreamTracker,
    data_dir: DataDir,
) -> LadderManager:
    """Ladders of this node's cameras, written under nginx's layout, segments as long as
    nginx's HLS fragments."""
    return LadderManager(
        LadderSettings(
            ffmpeg=config.ffmpeg_binary,
            ffprobe=config.ffprobe_binary,
            rtmp_source=loopback_rtmp(str(config.rtmp_listen)),
            hls_root=nginx.layout.hls,
            root=nginx.layout.ladder,
            log_dir=data_dir.root / "logs",
            play_token=play_token,
            fragment_s=lambda: nginx.hls[0],
        ),
        assignment,
        streams,
    )


def add_ladder_routes(
    app: web.Application,
    signed: http.SignatureCheck,
    ladders: Callable[[], LadderManager | None],
) -> None:
    """/auth/abr on the agent's API, demanding ladders of whichever manager runs."""

    async def demand(camera_id: str, wait_s: float) -> bool:
        manager = ladders()
        return await manager.demand(camera_id, wait_s) if manager is not None else False

    http.add_routes(app, signed, demand)
