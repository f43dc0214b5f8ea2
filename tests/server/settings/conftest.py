"""A control plane with a database of its own per test, on each backend: settings tests change
platform-wide settings (login rules among them), which must not reach other tests' planes."""

from __future__ import annotations

import pytest

from tests.conftest import PlatformFactory
from tests.support.platform import Platform


@pytest.fixture
async def plane(make_platform: PlatformFactory) -> Platform:
    return await make_platform()
