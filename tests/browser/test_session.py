"""Sessions in the browser: short access tokens are refreshed silently (single-flight, so the
rotating refresh token is never presented twice and the session survives), logout ends it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from camfleet.v1 import auth_pb2, auth_pb2_grpc
from playwright.sync_api import Page, expect

from tests.browser.conftest import EdgeTls
from tests.browser.helpers import goto, log_in, stored_session
from tests.support.local_platform import LocalPlatform, run_local_platform

# The UI refreshes when less than 30 s are left: with 31 s tokens, nearly every call refreshes.
ACCESS_TOKEN_TTL_S = 31


@pytest.fixture(scope="module")
def short_token_platform(
    tmp_path_factory: pytest.TempPathFactory, edge_tls: EdgeTls
) -> Iterator[LocalPlatform]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAMFLEET_ACCESS_TOKEN_TTL", str(ACCESS_TOKEN_TTL_S))
        with run_local_platform(
            tmp_path_factory.mktemp("short-tokens"), tls_dir=edge_tls.tls_dir
        ) as platform:
            yield platform


def _refresh_token(page: Page) -> str:
    raw = stored_session(page)
    assert raw, "no session in this tab"
    return str(json.loads(raw)["refreshToken"])


@pytest.mark.timeout(300)
def test_expiring_access_tokens_are_refreshed_without_the_person_noticing(
    page: Page, short_token_platform: LocalPlatform
) -> None:
    platform = short_token_platform
    log_in(page, platform.url, "admin", platform.admin_password)
    first = _refresh_token(page)

    # Several pages, each firing calls at once (lists, the watch, node polling), past expiry.
    for _ in range(3):
        for nav in ["nav-cameras", "nav-users", "nav-audit", "nav-nodes", "nav-dashboard"]:
            page.get_by_test_id(nav).click()
            expect(page.get_by_test_id("error")).to_have_count(0)
        page.wait_for_timeout(2_000)

    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    expect(page.get_by_test_id("watch-phase")).to_have_attribute("data-phase", "live")
    assert _refresh_token(page) != first, "the access token was never refreshed"

    # Logging out ends the session on the server: the refresh token no longer works.
    last = _refresh_token(page)
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("session-ended")).to_have_count(0)
    with (
        grpc.insecure_channel(platform.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        auth_pb2_grpc.AuthServiceStub(channel).Refresh(
            auth_pb2.RefreshRequest(refresh_token=last), timeout=30
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_session_ended_elsewhere_returns_to_the_login_page_saying_so(
    page: Page, short_token_platform: LocalPlatform
) -> None:
    platform = short_token_platform
    log_in(page, platform.url, "admin", platform.admin_password)
    page.get_by_test_id("nav-nodes").click()
    expect(page.get_by_test_id("node-row")).to_have_count(1)

    # "Log out everywhere" from another device ends this tab's session too.
    with grpc.insecure_channel(platform.grpc_target) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        other = auth.Login(
            auth_pb2.LoginRequest(username="admin", password=platform.admin_password), timeout=30
        )
        auth.Logout(
            auth_pb2.LogoutRequest(all_sessions=True),
            metadata=[("authorization", f"Bearer {other.tokens.access_token}")],
            timeout=30,
        )

    # The page's next call needs a refresh, which is refused: back to the login form, with why.
    expect(page.get_by_test_id("session-ended")).to_have_text(
        "Your session has ended. Please sign in again.", timeout=60_000
    )
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_tabs_share_one_session_and_take_turns_refreshing_it(
    page: Page, short_token_platform: LocalPlatform
) -> None:
    platform = short_token_platform
    log_in(page, platform.url, "admin", platform.admin_password)
    # A second tab opens signed in (the session is shared by the browser's tabs).
    other = page.context.new_page()
    goto(other, f"{platform.url}#/cameras")
    expect(other.get_by_test_id("current-role")).to_have_text("admin")
    first = _refresh_token(page)

    # Both tabs keep calling past expiry; each refresh rotates the token, and a token presented
    # twice would end the session for both (reuse detection). They must take turns.
    for _ in range(3):
        for nav in ["nav-users", "nav-nodes", "nav-dashboard"]:
            page.get_by_test_id(nav).click()
            other.get_by_test_id(nav).click()
        page.wait_for_timeout(2_000)
    for tab in (page, other):
        expect(tab.get_by_test_id("current-role")).to_have_text("admin")
        expect(tab.get_by_test_id("error")).to_have_count(0)
    assert _refresh_token(page) != first

    # Logging out in one tab signs the other out too.
    other.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
