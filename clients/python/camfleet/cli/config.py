"""The `camfleet` configuration file: named contexts (a server and its credentials), like
kubectl's kubeconfig.

Where: `$CAMFLEET_CONFIG` when set (tests use it), else `$XDG_CONFIG_HOME/camfleet/config.yaml`,
else `~/.config/camfleet/config.yaml`. The file holds tokens, so it is written with mode 0600
(its directory 0700) and a file others may read or write is refused with the `chmod` that fixes
it. Writes replace the file atomically; `locked()` serialises read-modify-write between several
`camfleet` processes (a refresh token works once: two processes must not both spend it).

Contract: `load()` -> `Config`; change it; `save(config)`. Command modules use `Context` through
`camfleet.cli.state` and rarely need this module directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from camfleet.cli.errors import CliError, ExitCode

CONFIG_ENV = "CAMFLEET_CONFIG"
DEFAULT_CONTEXT = "default"


@dataclass
class Context:
    """One server and how to authenticate to it."""

    server: str
    # "password" (access + refresh tokens from a login) or "api_token".
    auth: str = "password"
    username: str = ""
    access_token: str = ""
    # RFC 3339, UTC.
    access_token_expire_time: str = ""
    refresh_token: str = ""
    refresh_token_expire_time: str = ""
    api_token: str = ""
    # Use TLS to reach the server (the context was created with an https:// or grpcs:// server).
    tls: bool = False
    # A CA certificate file (PEM) the server's certificate is verified against instead of the
    # system's roots: a local CA's ca.pem (./start prints where). Implies TLS.
    ca: str = ""

    @property
    def logged_in(self) -> bool:
        return bool(self.api_token or self.access_token or self.refresh_token)


@dataclass
class Config:
    current_context: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)


def config_path() -> Path:
    """Where the configuration file lives."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "camfleet" / "config.yaml"


def _check_permissions(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CliError(
            f"The config file {path} holds tokens but others may access it (mode {mode:04o}); "
            f"run `chmod 600 {path}` and try again.",
            ExitCode.ERROR,
        )


def _context_from(name: str, raw: object) -> Context:
    if not isinstance(raw, dict) or not isinstance(raw.get("server"), str):
        raise CliError(
            f"The context {name!r} in {config_path()} has no server; delete it with "
            f"`camfleet context delete {name}` and log in again.",
            ExitCode.ERROR,
        )
    known = {f.name for f in fields(Context)}
    values: dict[str, Any] = {k.replace("-", "_"): v for k, v in raw.items()}
    return Context(**{k: v for k, v in values.items() if k in known})


def load() -> Config:
    """The configuration; an empty one when the file does not exist yet."""
    # Imported here, not at the top: `camfleet --help` (or a mistyped command) reads no config
    # and does without YAML's import.
    import yaml

    path = config_path()
    if not path.exists():
        return Config()
    _check_permissions(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CliError(
            f"The config file {path} is not valid YAML ({exc}); fix or remove it.", ExitCode.ERROR
        ) from None
    if not isinstance(raw, dict):
        raise CliError(f"The config file {path} is not a mapping; fix or remove it.")
    contexts_raw = raw.get("contexts") or {}
    if not isinstance(contexts_raw, dict):
        raise CliError(f"The config file {path} has a malformed 'contexts'; fix or remove it.")
    contexts = {str(name): _context_from(str(name), value) for name, value in contexts_raw.items()}
    return Config(current_context=str(raw.get("current-context") or ""), contexts=contexts)


def save(config: Config) -> None:
    """Write the configuration atomically with mode 0600."""
    import yaml

    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    document = {
        "current-context": config.current_context,
        "contexts": {
            name: {k.replace("_", "-"): v for k, v in asdict(ctx).items() if v not in ("", False)}
            for name, ctx in sorted(config.contexts.items())
        },
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the configuration's lock (an flock on a file beside it) for a read-modify-write."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def resolve_name(config: Config, explicit: str | None) -> str:
    """The context to use: the explicit one, else the current one, else "default"."""
    return explicit or config.current_context or DEFAULT_CONTEXT
