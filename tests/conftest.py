"""Shared fixtures: a control plane on each backend (SQLite + in-process stand-ins, and
PostgreSQL + Redis), started in process on an ephemeral port and stopped at the end."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.databases import REDIS_URL, throwaway_postgres, throwaway_redis_prefix
from server.config import Settings
from tests.support.file_order import FileTimes, PhaseCpu, order_longest_files_first
from tests.support.platform import (
    Platform,
    deactivate_pull_cameras,
    settings_for_tests,
    start_platform,
    stop_platform,
)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    with throwaway_redis_prefix() as prefix:
        yield prefix


def backend_settings(
    backend: str, tmp: Path, request: pytest.FixtureRequest, **overrides: object
) -> Settings:
    """Settings for `backend`: "sqlite" (embedded) or "postgres" (with Redis)."""
    if backend == "postgres":
        overrides.setdefault("database_url", request.getfixturevalue("postgres_url"))
        overrides.setdefault("redis_url", REDIS_URL)
        overrides.setdefault("redis_prefix", request.getfixturevalue("redis_prefix"))
    return settings_for_tests(tmp, **overrides)


@pytest.fixture(scope="session", params=BACKENDS)
def platform(request: pytest.FixtureRequest) -> Platform:
    """The shared control plane of a backend; tests create uniquely named resources on it.
    pytest ends a parametrized session fixture whenever the next test wants the other backend,
    which on several workers (./test: whole files to each) is once or twice per file: the
    planes themselves are the unparametrized fixtures below, started once each."""
    plane: Platform = request.getfixturevalue(f"{request.param}_platform")
    return plane


# The shared planes started on this worker (for the cleanup between modules below).
_SHARED: list[Platform] = []


async def _shared_platform(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    settings = backend_settings(backend, tmp_path_factory.mktemp(backend), request)
    p = await start_platform(settings, backend)
    _SHARED.append(p)
    yield p
    _SHARED.remove(p)
    await stop_platform(p)


@pytest.fixture(scope="module", autouse=True)
async def _pull_cameras_stay_in_their_module() -> AsyncIterator[None]:
    """A shared plane's scheduler places every active pull camera on some READY node: one a
    module left active would land on the next module's nodes (and follow them from node to
    node as each test's agents leave). After each module they are deactivated."""
    yield
    for plane in list(_SHARED):
        await deactivate_pull_cameras(plane)


@pytest.fixture(scope="session")
async def sqlite_platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    async for p in _shared_platform("sqlite", request, tmp_path_factory):
        yield p


@pytest.fixture(scope="session")
async def postgres_platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    async for p in _shared_platform("postgres", request, tmp_path_factory):
        yield p


PlatformFactory = Callable[..., Awaitable[Platform]]


@pytest.fixture
async def make_platform(
    platform: Platform, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PlatformFactory]:
    """Start extra control planes (same backend as `platform`, own database) with overrides."""
    with ExitStack() as databases:
        started: list[Platform] = []

        async def make(**overrides: object) -> Platform:
            tmp = tmp_path_factory.mktemp("extra")
            if platform.backend == "postgres":
                overrides.setdefault("database_url", databases.enter_context(throwaway_postgres()))
                # Its own database needs its own Redis prefix: a prefix's event stream is one
                # database's events (the outbox relays that database's revisions). Inside the
                # session's prefix, so it is cleaned up with it.
                prefix = platform.settings.redis_prefix
                overrides.setdefault("redis_prefix", f"{prefix}extra-{secrets.token_hex(4)}:")
            settings = backend_settings(platform.backend, tmp, request, **overrides)
            p = await start_platform(settings, platform.backend)
            started.append(p)
            return p

        yield make
        for p in started:  # stop servers before their databases are dropped
            await stop_platform(p)


_FILE_TIMES = FileTimes()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PhaseCpu(), "camfleet-phase-cpu")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_longest_files_first(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _FILE_TIMES.add(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _FILE_TIMES.summary(terminalreporter)
