"""`python -m server`: run the control plane (or `migrate`, `rotate-signing-key`,
`rotate-playback-secret`, `create-join-token`)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from config_options import ConfigError
from server.app import start
from server.auth.access_tokens import SigningKeys
from server.backends import StartupError
from server.common.secrets_store import rotate_secret
from server.config import Settings, load_settings
from server.db.engine import create_engine, secure_data_dir, secure_sqlite_file, session_factory
from server.db.migrate import upgrade_to_head
from server.nodes.join_tokens import JoinTokenService


async def _serve(settings: Settings) -> None:
    plane = await start(settings)
    if plane.generated_admin_password:
        # Printed once, to stdout, so the person starting it can log in; never logged again.
        print(
            "\n  Created user 'admin' with password: "
            f"{plane.generated_admin_password}\n  (shown once; change it with "
            "UserService.ChangePassword, or set CAMFLEET_ADMIN_PASSWORD on first start)\n",
            flush=True,
        )
    print(
        f"camfleet control plane ready on {settings.listen.rsplit(':', 1)[0]}:{plane.port}",
        flush=True,
    )
    if plane.metrics is not None:
        host = settings.metrics_listen.rsplit(":", 1)[0]
        print(f"Prometheus metrics at http://{host}:{plane.metrics.port}/metrics", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger("server").info("shutting down")
    await plane.stop(grace=5.0)


def _prepare_files(settings: Settings) -> None:
    """The data directory 0700 and the SQLite files 0600, before anything opens them."""
    if not settings.database_url:
        secure_data_dir(settings.data_dir)
    secure_sqlite_file(settings.resolved_database_url)


async def _migrate(settings: Settings) -> None:
    _prepare_files(settings)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_to_head(engine)
    await engine.dispose()
    print("database schema is up to date")


async def _rotate(settings: Settings) -> None:
    _prepare_files(settings)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_to_head(engine)
    keys = SigningKeys(session_factory(engine))
    kid = await keys.rotate()
    await engine.dispose()
    print(f"new signing key {kid}; other replicas pick it up on the first token it signs")


async def _rotate_playback(settings: Settings) -> None:
    _prepare_files(settings)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_to_head(engine)
    await rotate_secret(session_factory(engine), "playback")
    await engine.dispose()
    print(
        "new playback secret: restart every control plane; node agents get it when they "
        "reconnect. Signed media URLs made before stop working."
    )


async def _join_token(settings: Settings) -> None:
    _prepare_files(settings)
    engine = create_engine(settings.resolved_database_url)
    await upgrade_to_head(engine)
    _, secret = await JoinTokenService(session_factory(engine)).create(
        "created on the command line", 1, None
    )
    await engine.dispose()
    # Only the secret on stdout, so scripts can capture it.
    print(secret)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    # Everything this process creates (SQLite's WAL and SHM, sockets, …) is owner-only: the
    # database holds the signing keys, the playback secret and every stream key.
    os.umask(0o077)
    try:
        command, settings = load_settings(argv)
    except ConfigError as exc:
        print(f"camfleet: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    runner = {
        "serve": _serve,
        "migrate": _migrate,
        "rotate-signing-key": _rotate,
        "rotate-playback-secret": _rotate_playback,
        "create-join-token": _join_token,
    }[command]
    try:
        asyncio.run(runner(settings))
    except StartupError as exc:
        print(f"camfleet: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
