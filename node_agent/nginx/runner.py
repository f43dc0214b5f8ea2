"""The node's nginx: rendered config, supervised process, readiness, /stat readings and
publishers dropped through rtmp_control (both on nginx's internal Unix socket)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from node_agent.config_values import HostPort
from node_agent.errors import StartupError
from node_agent.nginx.access import WorkerAccount, chown_tree, set_owner, worker_account
from node_agent.nginx.config import NginxLayout, NginxPorts, render
from node_agent.nginx.reload import reload
from node_agent.nginx.stat import StreamStat, parse_stat
from node_agent.restart_policy import ExitRecord, RestartPolicy
from node_agent.supervisor import Supervisor

log = logging.getLogger(__name__)


def ensure_can_bind(flag: str, listen: HostPort) -> None:
    """StartupError naming `flag` if nothing could listen on `listen` (in use, no such address).

    nginx would only log it and exit, over and over under the supervisor; say it once, up front.
    """
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StartupError(f"{flag} {listen}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # As nginx does, so a port in TIME_WAIT from a previous run is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise StartupError(f"{flag} {listen}: {exc.strerror or exc}") from None


def prepare_layout(layout: NginxLayout, worker: WorkerAccount) -> None:
    """nginx's directories with the owners and modes its workers need: they write the live HLS
    fragments and read them through the by-camera links; they never see the logs (nginx logs
    stream keys) and may only traverse the rest."""
    layout.create()
    me, my_gid = os.geteuid(), os.getegid()
    shared_gid = worker.gid if worker.separate else my_gid
    set_owner(layout.root, me, shared_gid, 0o710)
    set_owner(layout.logs, me, my_gid, 0o700)
    # nginx's master makes the directories under it and gives them to the workers itself.
    set_owner(layout.temp, me, shared_gid, 0o710)
    set_owner(layout.by_camera, me, shared_gid, 0o750)
    chown_tree(layout.hls, worker.uid, worker.gid)
    os.chmod(layout.hls, 0o700)


async def _accepts(listen: str | Path) -> bool:
    """Whether something accepts connections on host:port (TCP) or a Unix socket's path."""
    try:
        if isinstance(listen, Path):
            _, writer = await asyncio.open_unix_connection(listen)
        else:
            _, writer = await asyncio.open_connection(*_split(listen))
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def error_log_tail(path: Path, lines: int = 2, tail_bytes: int = 64 * 1024) -> list[str]:
    """The last `lines` [emerg] lines of nginx's error log at `path` (else its last lines): why
    nginx would not start, reload or stay up. Two by default: nginx ends a failed bind with a
    bare "still could not bind()" after the line that names the address and the reason. Only
    the file's end is read: the log is at info level (a line per client) and grows for good."""
    try:
        with path.open("rb") as log_file:
            size = log_file.seek(0, os.SEEK_END)
            log_file.seek(max(0, size - tail_bytes))
            found = log_file.read().decode(errors="replace").splitlines()
    except OSError:
        return ["(no error.log)"]
    if size > tail_bytes:
        found = found[1:]  # the first line read is most likely cut
    emerg = [line for line in found if "[emerg]" in line]
    return (emerg or found or ["(empty)"])[-lines:]


def _split(listen: str) -> tuple[str, int]:
    host, port = listen.rsplit(":", 1)
    return host.strip("[]"), int(port)


class NginxRunner:
    """Renders nginx.conf into `layout` and keeps nginx running under a Supervisor."""

    def __init__(
        self,
        binary: str,
        layout: NginxLayout,
        ports: NginxPorts,
        hls_fragment_s: float = 1.0,
        worker: WorkerAccount | None = None,
        *,
        hls_playlist_length_s: float | None = None,
    ) -> None:
        self.layout = layout
        self.ports = ports
        self.worker = worker or worker_account(layout.root)
        self._fragment = hls_fragment_s
        self._playlist = hls_playlist_length_s
        self.supervisor = Supervisor(
            name="nginx",
            argv=[binary, "-p", str(layout.root), "-c", str(layout.conf)],
            log_path=layout.logs / "nginx.out",
            on_exit=self._exited,
            # A killed nginx leaves its socket behind, and the next one could not bind it.
            before_spawn=lambda: ports.stat_socket.unlink(missing_ok=True),
            # Every camera on the node is down while nginx is: a healthy one that dies is
            # started again at once (chaos soak: up to 0.5 s more of every camera lost).
            policy=RestartPolicy(quick_first_restart=True),
        )
        self._session: aiohttp.ClientSession | None = None
        # Told at once whenever nginx exits (before it is started again).
        self.exit_listeners: list[Callable[[], None]] = []

    def _exited(self, record: ExitRecord, crash_looping: bool) -> None:
        # The supervisor logs that nginx exited; why (a port taken, a bad directive) is only in
        # nginx's error.log, which is where nobody looks first: say it here.
        why = self._error_log_tail()
        if crash_looping:
            log.error("nginx keeps dying (last exit %s): %s", record.returncode, why)
        else:
            log.warning("nginx exited with %s: %s", record.returncode, why)
        for listener in self.exit_listeners:
            listener()

    @property
    def pid(self) -> int | None:
        """PID of the nginx master, if running."""
        return self.supervisor.pid

    async def start(self, ready_within_s: float = 15.0) -> None:
        """Write nginx.conf, start nginx, and wait until all its listeners accept."""
        prepare_layout(self.layout, self.worker)
        self._write_conf()
        try:
            await self.supervisor.start()
        except TimeoutError as exc:
            raise StartupError(f"cannot start nginx: {exc}") from None
        deadline = time.monotonic() + ready_within_s
        listeners: tuple[str | Path, ...] = (
            self.ports.rtmp_listen,
            self.ports.http_listen,
            self.ports.stat_socket,
            *([self.ports.ingest_listen] if self.ports.ingest_listen else []),
        )
        for listen in listeners:
            while not await _accepts(listen):
                await self._not_ready(deadline, f"is not listening on {listen}", ready_within_s)
                await asyncio.sleep(0.05)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(self.ports.stat_socket)),
            timeout=aiohttp.ClientTimeout(total=2.0),
        )
        # Listening is not being ready: nginx opens its sockets one by one, and when one cannot
        # be bound (its port taken since ensure_can_bind) it keeps the others listening while it
        # tries again for 2.5 s, then exits 1, and so on under the supervisor. Only its workers
        # answer /stat, and they start once every socket is bound.
        while await self.stat() is None:
            await self._not_ready(deadline, "does not answer /stat", ready_within_s)
            await asyncio.sleep(0.05)

    async def _not_ready(self, deadline: float, what: str, ready_within_s: float) -> None:
        """Past `deadline`: stop nginx and raise StartupError saying `what`, with its reason."""
        if time.monotonic() <= deadline:
            return
        await self.stop()
        raise StartupError(
            f"nginx {what} after {ready_within_s:.0f}s; "
            f"see {self.layout.logs / 'error.log'}: {self._error_log_tail()}"
        )

    def _write_conf(self) -> None:
        # The file a restart after a crash reads too: it always holds the settings in force.
        self.layout.conf.write_text(render(self.layout, self.ports, self._fragment, self._playlist))

    @property
    def hls(self) -> tuple[float, float | None]:
        """The HLS fragment and playlist length nginx.conf has."""
        return self._fragment, self._playlist

    async def set_hls(self, fragment_s: float, playlist_s: float) -> None:
        """Render nginx.conf with these HLS lengths and reload nginx (the master keeps running;
        live streams reconnect to the new workers and take them: node_agent.nginx.reload)."""
        if (fragment_s, playlist_s) == (self._fragment, self._playlist):
            return
        self._fragment, self._playlist = fragment_s, playlist_s
        await asyncio.to_thread(self._write_conf)
        master = self.pid
        if master is None:
            return  # restarting: the new master reads the new file
        if not await reload(master):
            raise RuntimeError(
                "nginx did not reload its configuration; see "
                f"{self.layout.logs / 'error.log'}: {self._error_log_tail()}"
            )

    def _error_log_tail(self) -> str:
        """The last [emerg] lines of nginx's error.log (else its last lines), on one line."""
        return " | ".join(error_log_tail(self.layout.logs / "error.log"))

    async def stat(self) -> list[StreamStat] | None:
        """Streams nginx reports now; None when it cannot be asked (e.g. restarting)."""
        if self._session is None:
            return None
        try:
            async with self._session.get("http://nginx/stat") as response:
                if response.status != 200:
                    return None
                return parse_stat(await response.text())
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def drop_publisher(self, stream_key: str) -> int | None:
        """Disconnect whoever publishes `stream_key` (nginx then calls on_publish_done); how many
        publishers nginx dropped, None when it cannot be asked (e.g. restarting)."""
        if self._session is None:
            return None
        url = "http://nginx/control/drop/publisher"
        try:
            async with self._session.get(url, params={"app": "live", "name": stream_key}) as reply:
                body = await reply.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot ask nginx to drop a publisher: %r", exc)
            return None
        # rtmp_control answers 200 with the number of sessions it dropped ("0" for none).
        if reply.status != 200 or not body.strip().isdigit():
            log.warning("nginx refused to drop a publisher: HTTP %d %s", reply.status, body[:200])
            return None
        return int(body.strip())

    async def stop(self) -> None:
        """Stop nginx (by its PID) and close the /stat client."""
        await self.supervisor.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None
