"""A real Kannel SMS gateway on loopback for tests: Debian's bearerbox and smsbox (package
`kannel`) with `fakesmsc` (package `kannel-extras`) as the carrier, every port free and on
127.0.0.1, config and logs in a directory of the caller's. Each process is ended by its PID.

Kannel's `sendsms` answers 202 "0: Accepted for delivery" for a message it took (fakesmsc then
prints `Got message N: <from to text ...>`) and 403 "Authorization failed" for a wrong
username or password."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.ports import LOOPBACK, free_port
from harness.processes import Child, stop_all

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"

# fakesmsc prints what the gateway sent it as "Got message N: <sender receiver type data>".
_GOT = re.compile(r"Got message \d+: <(\S*) (\S*) (\S+) (.*)>\s*$")


@dataclass(frozen=True)
class CarrierMessage:
    """One SMS as it reached the carrier (fakesmsc)."""

    sender: str
    receiver: str
    # "text" (GSM text as is) or "ucs-2" / "data" (URL-encoded bytes).
    coding: str
    data: str

    @property
    def text(self) -> str:
        """The message text, decoded from what fakesmsc printed."""
        if self.coding == "text":
            return self.data
        # URL-encoded, with "+" for a space byte.
        raw = urllib.parse.unquote_to_bytes(self.data.replace("+", "%20"))
        return raw.decode("utf-16-be") if self.coding == "ucs-2" else raw.decode("latin-1")


@dataclass
class Kannel:
    """A running gateway: its sendsms URL, the sendsms user, and what the carrier received."""

    root: Path
    sendsms_port: int
    username: str
    password: str
    children: dict[str, Child]

    @property
    def sendsms_url(self) -> str:
        return f"http://{LOOPBACK}:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def carrier_log(self) -> Path:
        return self.root / "fakesmsc.log"

    def received(self) -> list[CarrierMessage]:
        """Every message fakesmsc got so far, in order."""
        try:
            text = self.carrier_log.read_text(errors="replace")
        except OSError:
            return []
        found = (_GOT.search(line) for line in text.splitlines())
        return [CarrierMessage(*m.groups()) for m in found if m is not None]

    async def wait_received(self, count: int, within_s: float = 20.0) -> list[CarrierMessage]:
        """Until the carrier got at least `count` messages; TimeoutError with the logs after."""
        deadline = time.monotonic() + within_s
        while len(got := self.received()) < count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"fakesmsc got {len(got)} of {count} messages in {within_s:g} s:\n"
                    + self.logs()
                )
            await asyncio.sleep(0.1)
        return got

    def check_alive(self) -> None:
        for child in self.children.values():
            child.check_alive()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


def _config(root: Path, ports: dict[str, int], username: str, password: str) -> str:
    return f"""\
group = core
admin-port = {ports["admin"]}
admin-password = {password}-admin
admin-interface = {LOOPBACK}
smsbox-port = {ports["smsbox"]}
smsbox-interface = {LOOPBACK}
box-allow-ip = {LOOPBACK}
log-file = "{root / "bearerbox-file.log"}"
log-level = 0
access-log = "{root / "access.log"}"
store-type = spool
store-location = "{root / "store"}"

group = smsc
smsc = fake
smsc-id = fake
host = {LOOPBACK}
port = {ports["smsc"]}
interface-version = 34
connect-allow-ip = {LOOPBACK}

group = smsbox
bearerbox-host = {LOOPBACK}
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = {LOOPBACK}
global-sender = 13013
log-file = "{root / "smsbox-file.log"}"
log-level = 0

group = sendsms-user
username = {username}
password = {password}
max-messages = 1
user-allow-ip = {LOOPBACK}

group = sms-service
keyword = default
text = "no service"
"""


async def _wait_port(port: int, children: dict[str, Child], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        for child in children.values():
            child.check_alive()
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {LOOPBACK}:{port} after {within_s:g} s"
                ) from error
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


def _prepare(root: Path, config: Path, text: str) -> None:
    (root / "store").mkdir(parents=True, exist_ok=True)
    config.write_text(text)


@asynccontextmanager
async def kannel(
    root: Path,
    username: str = "camfleet",
    password: str = "sms-secret-1",  # noqa: S107 (a test gateway's)
    within_s: float = 20.0,
) -> AsyncIterator[Kannel]:
    """bearerbox, then fakesmsc (which does not retry its connection) once the bearerbox
    listens for it, then smsbox, configured in `root`; yields once sendsms accepts connections
    and smsbox and the carrier are connected. Stopped by PID on exit."""
    ports = {name: free_port() for name in ("admin", "smsbox", "smsc", "sendsms")}
    config = root / "kannel.conf"
    _prepare(root, config, _config(root, ports, username, password))
    children: dict[str, Child] = {}
    try:
        children["bearerbox"] = Child(
            "bearerbox", [BEARERBOX, "-v", "1", str(config)], log=root / "bearerbox.log", cwd=root
        )
        await _wait_port(ports["smsc"], children, within_s)
        # The carrier sends no messages of its own (-m 0) and prints every one it gets.
        children["fakesmsc"] = Child(
            "fakesmsc",
            [FAKESMSC, "-H", LOOPBACK, "-r", str(ports["smsc"]), "-m", "0", "123 456 text x"],
            log=root / "fakesmsc.log",
            cwd=root,
        )
        children["smsbox"] = Child(
            "smsbox", [SMSBOX, "-v", "1", str(config)], log=root / "smsbox.log", cwd=root
        )
        gateway = Kannel(root, ports["sendsms"], username, password, children)
        await _connected(gateway, within_s)
        await _smsc_online(ports["admin"], f"{password}-admin", gateway, within_s)
        yield gateway
    finally:
        stop_all([c.proc for c in reversed(children.values())], grace_s=5.0)


async def _connected(gateway: Kannel, within_s: float) -> None:
    await _wait_port(gateway.sendsms_port, gateway.children, within_s)
    deadline = time.monotonic() + within_s
    wanted = {"bearerbox.log": "Fakesmsc client connected", "smsbox.log": "Connected to bearerbox"}
    while True:
        gateway.check_alive()
        if all(
            line in (gateway.root / name).read_text(errors="replace")
            for name, line in wanted.items()
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Kannel was not connected in {within_s:g} s:\n{gateway.logs()}")
        await asyncio.sleep(0.1)


async def _smsc_online(
    admin_port: int, admin_password: str, gateway: Kannel, within_s: float
) -> None:
    """Until bearerbox's status page says the carrier link is online: a connected fakesmsc is
    not yet routable for a moment (on a loaded machine, long enough that sendsms answered
    202 "Queued for later delivery" instead of "Accepted for delivery")."""
    query = urllib.parse.urlencode({"password": admin_password})
    url = f"http://{LOOPBACK}:{admin_port}/status.txt?{query}"
    deadline = time.monotonic() + within_s
    status = ""
    while True:
        gateway.check_alive()
        try:
            status = await asyncio.to_thread(_read, url)
        except OSError:
            status = ""
        if re.search(r"\bfake\b.*\(online", status):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Kannel's carrier link was not online in {within_s:g} s:\n{status}")
        await asyncio.sleep(0.1)


def _read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback, http)
        return str(response.read().decode(errors="replace"))
