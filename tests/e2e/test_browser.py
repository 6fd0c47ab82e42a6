"""The demo page in a real browser (Debian's Chromium driven by Playwright) against the running local stack.

Each test signs in on the demo page the way a person would (Cognito from the browser, then ``POST /token``),
and judges the result where it matters: inside the embedded Tableau view, served by the emulator from the
session the broker's JWT opened. A wrong tenant, a missing entitlement or a tampered token must show no rows.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    FrameLocator,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000  # one viz load: Cognito, the broker, the embed sign-in and the view, all local
VIZ_IFRAME = "tableau-viz iframe"


# --- browser fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():  # fail, never skip: these tests are the proof that the page works
        pytest.fail(f"Chromium is required for the browser tests and was not found at {CHROMIUM}")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class ConsoleLog:
    """Everything the page writes to the console, to prove that no token is ever logged."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: ConsoleMessage) -> None:
        self.lines.append(message.text)

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, console: ConsoleLog) -> Iterator[Page]:
    """A fresh browser context (no cookies, no storage) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: console.lines.append(f"pageerror: {error}"))
    yield page
    context.close()


# --- helpers --------------------------------------------------------------------------------------------


def user(stack: dict[str, Any], *, tenant: str | None = None, entitled: bool = True) -> dict[str, Any]:
    for candidate in stack["users"]:
        if candidate["entitled"] == entitled and (tenant is None or candidate["tenant"] == tenant):
            found: dict[str, Any] = candidate
            return found
    raise AssertionError(f"stack.json has no {'entitled' if entitled else 'unentitled'} user for tenant {tenant}")


def open_demo(page: Page, stack: dict[str, Any]) -> None:
    page.goto(stack["demo_url"])
    expect(page.locator("#sign-in")).to_be_enabled()  # config.json loaded


def sign_in(page: Page, stack: dict[str, Any], who: dict[str, Any]) -> dict[str, Any]:
    """Fill the form from the demo-user list, sign in; returns the broker's answer to ``POST /token``."""
    open_demo(page, stack)
    page.locator(f'[data-demo-user="{who["username"]}"]').click()
    expect(page.locator("#username")).to_have_value(who["username"])
    with page.expect_response(
        lambda r: r.url == stack["api_url"] and r.request.method == "POST", timeout=TIMEOUT_MS
    ) as answer:
        page.locator("#sign-in").click()
    response = answer.value
    body: dict[str, Any] = response.json()
    body["_status"] = response.status
    return body


def viz_frame(page: Page) -> FrameLocator:
    return page.frame_locator(VIZ_IFRAME)


def tenants_in_view(frame: FrameLocator) -> list[str]:
    rows: list[str] = frame.locator("tr[data-tenant]").evaluate_all("rows => rows.map(r => r.dataset.tenant)")
    return rows


def frames_with_rows(page: Page) -> list[str]:
    """URLs of every frame of the page that shows at least one data row."""
    return [f.url for f in page.frames if f is not page.main_frame and f.locator("tr[data-tenant]").count() > 0]


def embed_signins(stack: dict[str, Any]) -> list[dict[str, Any]]:
    response = requests.get(f"{stack['tableau_url']}/_emulator/signins", timeout=5)
    response.raise_for_status()
    return [s for s in response.json()["signins"] if s.get("kind") == "embed"]


def assert_tenant_view(page: Page, stack: dict[str, Any], who: dict[str, Any], issued: dict[str, Any]) -> None:
    """The viz shows ``who``'s rows only, the claims panel the decoded token without its signature."""
    assert issued["_status"] == 200, issued
    frame = viz_frame(page)
    expect(frame.locator("#row-count")).to_be_visible()
    count = int(frame.locator("#row-count").inner_text())
    tenants = tenants_in_view(frame)
    assert count > 0
    assert len(tenants) == count
    assert set(tenants) == {who["tenant"]}, f"{who['username']} sees rows of {sorted(set(tenants))}"
    expect(frame.locator("#user")).to_have_text(who["tableau_username"])
    expect(frame.locator("#site")).to_have_text(stack["site"])
    expect(page.locator("#viz-error")).to_be_hidden()

    # The claims panel: header and payload decoded, the tenant attribute is the user's, no signature.
    token: str = issued["token"]
    _, payload_b64, signature = token.split(".")
    expect(page.locator("#claims")).to_be_visible()
    header = json.loads(page.locator("#claims-header").inner_text())
    payload = json.loads(page.locator("#claims-payload").inner_text())
    assert header["alg"] == "HS256"
    assert payload["sub"] == who["tableau_username"]
    attribute = frame.locator("#attribute-name").inner_text()  # the attribute the view filters on
    value = payload[attribute]
    assert value == who["tenant"] or value == [who["tenant"]], payload
    expect(page.locator("#expiry")).to_contain_text(issued["expires_at"])
    page_text = page.locator("body").inner_text()
    for secret_part in (signature, token, f"{payload_b64}.{signature}"):
        assert secret_part not in page_text


def assert_no_token_logged(console: ConsoleLog, token: str) -> None:
    logged = console.text()
    assert token not in logged
    assert token.split(".")[2] not in logged


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# --- tests ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tenant", "shot"), [("acme", "tenant-a.png"), ("globex", "tenant-b.png")])
def test_entitled_user_sees_only_their_tenant(
    page: Page, console: ConsoleLog, local_stack: dict[str, Any], tenant: str, shot: str
) -> None:
    who = user(local_stack, tenant=tenant)
    issued = sign_in(page, local_stack, who)
    assert_tenant_view(page, local_stack, who, issued)
    assert page.locator("tableau-viz").get_attribute("src") == (
        f"{issued['tableau']['url']}/t/{issued['tableau']['site']}/views/TenantSales/Orders"
    )
    assert screenshot(page, shot).stat().st_size > 0
    assert_no_token_logged(console, issued["token"])


def test_unentitled_user_gets_403_and_no_view(page: Page, local_stack: dict[str, Any]) -> None:
    who = user(local_stack, entitled=False)
    issued = sign_in(page, local_stack, who)
    assert issued["_status"] == 403
    assert issued["error"]["code"] == "not_entitled"
    assert "token" not in issued

    error = page.locator("#token-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("403")
    expect(error).to_contain_text("not_entitled")
    expect(page.locator("#claims")).to_be_hidden()
    expect(page.locator("tableau-viz")).to_have_count(0)
    expect(page.locator("#tamper")).to_be_disabled()
    assert frames_with_rows(page) == []
    screenshot(page, "not-entitled.png")


def test_tampered_signature_is_refused_and_shows_no_rows(
    page: Page, console: ConsoleLog, local_stack: dict[str, Any]
) -> None:
    who = user(local_stack, tenant="acme")
    issued = sign_in(page, local_stack, who)
    expect(viz_frame(page).locator("#row-count")).to_be_visible()
    assert int(viz_frame(page).locator("#row-count").inner_text()) > 0
    accepted_before = len(embed_signins(local_stack))

    page.locator("#tamper").click()

    error = page.locator("#viz-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("auth-failed")
    expect(error).to_contain_text("127")  # Tableau's code for a signature that does not verify
    viz = page.locator("tableau-viz")
    expect(viz).to_have_count(1)  # the old viz was replaced
    assert viz.get_attribute("data-tampered") == "true"
    assert viz.get_attribute("token") != issued["token"]
    expect(viz_frame(page).locator("tr[data-tenant]")).to_have_count(0)
    expect(viz_frame(page).locator("#row-count")).to_have_count(0)
    assert frames_with_rows(page) == []
    assert len(embed_signins(local_stack)) == accepted_before, "the emulator accepted the tampered token"
    screenshot(page, "tampered.png")

    page.locator("#sign-out").click()  # back to a clean page
    expect(page.locator("tableau-viz")).to_have_count(0)
    expect(page.locator("#claims")).to_be_hidden()
    expect(page.locator("#viz-error")).to_be_hidden()
    expect(page.locator("#tamper")).to_be_disabled()
    assert_no_token_logged(console, issued["token"])


def test_wrong_password_shows_signin_error(page: Page, local_stack: dict[str, Any]) -> None:
    who = user(local_stack, tenant="acme")
    open_demo(page, local_stack)
    for listed in local_stack["users"]:
        expect(page.locator(f'[data-demo-user="{listed["username"]}"]')).to_have_count(1)
    token_calls: list[str] = []
    page.on("request", lambda r: token_calls.append(r.url) if r.url == local_stack["api_url"] else None)

    page.locator("#username").fill(who["username"])
    page.locator("#password").fill(who["password"] + "-wrong")
    page.locator("#sign-in").click()

    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("NotAuthorized")
    expect(page.locator("#claims")).to_be_hidden()
    expect(page.locator("tableau-viz")).to_have_count(0)
    assert token_calls == []


# --- the browser package (clients/browser) in the page: retries, a refused token, typed errors ---------------


class TokenAnswers:
    """Every answer the page gets from ``POST /token``: status and body."""

    def __init__(self, page: Page, api_url: str) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        page.on("response", self._record)
        self._api_url = api_url

    def _record(self, response: Response) -> None:
        if response.url == self._api_url and response.request.method == "POST":
            self.answers.append((response.status, response.json()))

    def statuses(self) -> list[int]:
        return [status for status, _ in self.answers]

    def tokens(self) -> list[str]:
        return [body["token"] for status, body in self.answers if status == 200]


@pytest.fixture
def route_faults(local_stack: dict[str, Any]) -> Iterator[str]:
    """The local API's test control (local_stack/route_faults.py), cleared after the test."""
    url: str = local_stack["api_faults_url"]
    requests.delete(url, timeout=5).raise_for_status()
    yield url
    requests.delete(url, timeout=5).raise_for_status()


@pytest.fixture
def emulator_faults(local_stack: dict[str, Any]) -> Iterator[str]:
    url = f"{local_stack['tableau_url']}/_emulator/faults"
    requests.delete(url, timeout=5).raise_for_status()
    yield url
    requests.delete(url, timeout=5).raise_for_status()


def click_sign_in(page: Page, stack: dict[str, Any], who: dict[str, Any]) -> None:
    open_demo(page, stack)
    page.locator(f'[data-demo-user="{who["username"]}"]').click()
    expect(page.locator("#username")).to_have_value(who["username"])
    page.locator("#sign-in").click()


def jti(token: str) -> str:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


def test_broker_503_with_retry_after_is_retried_and_the_view_loads(
    page: Page, console: ConsoleLog, local_stack: dict[str, Any], route_faults: str
) -> None:
    # Given the broker answers the next two token requests 503 with Retry-After: 2
    retry_after = 2
    fault = {"route": "POST /token", "retry_after": retry_after, "count": 2}
    requests.post(route_faults, json=fault, timeout=5).raise_for_status()
    who = user(local_stack, tenant="globex")
    answers = TokenAnswers(page, local_stack["api_url"])

    # When the user signs in
    click_sign_in(page, local_stack, who)

    # Then the page waited as asked, asked a third time and the view shows the user's rows
    frame = viz_frame(page)
    expect(frame.locator("#row-count")).to_be_visible(timeout=TIMEOUT_MS + 2 * retry_after * 1000)
    assert set(tenants_in_view(frame)) == {who["tenant"]}
    assert answers.statuses() == [503, 503, 200]
    assert all(body["error"]["code"] == "dependency_unavailable" for _, body in answers.answers[:2])
    expect(page.locator("#token-error")).to_be_hidden()
    expect(page.locator("#viz-error")).to_be_hidden()
    arrivals = requests.get(route_faults, timeout=5).json()["arrivals"]["POST /token"]
    assert len(arrivals) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    # Retry-After was read (the API exposes it to the page) and honoured: the fallback would wait 1 s only.
    assert all(gap >= retry_after for gap in gaps), gaps
    assert_no_token_logged(console, answers.tokens()[0])


def test_refused_token_is_replaced_once_and_the_view_loads(
    page: Page, console: ConsoleLog, local_stack: dict[str, Any], emulator_faults: str
) -> None:
    # Given Tableau refuses the next embed sign-in as an expired token (code 16)
    requests.post(emulator_faults, json={"embed_signin": "token_expired", "count": 1}, timeout=5).raise_for_status()
    who = user(local_stack, tenant="acme")
    answers = TokenAnswers(page, local_stack["api_url"])
    signed_in_before = {s["jti"] for s in embed_signins(local_stack)}

    # When the user signs in
    click_sign_in(page, local_stack, who)

    # Then the page fetched one new token, Tableau accepted it, and the view shows the user's rows only
    frame = viz_frame(page)
    expect(frame.locator("#row-count")).to_be_visible()
    assert set(tenants_in_view(frame)) == {who["tenant"]}
    assert answers.statuses() == [200, 200]
    first, second = answers.tokens()
    assert jti(first) != jti(second)
    assert page.locator("tableau-viz").get_attribute("token") == second
    expect(page.locator("tableau-viz")).to_have_count(1)
    new_signins = {s["jti"] for s in embed_signins(local_stack)} - signed_in_before
    assert new_signins == {jti(second)}, "Tableau redeemed the refused token, or not the new one"
    assert requests.get(emulator_faults, timeout=5).json()["faults"] == {}, "the refusal was not used"
    expect(page.locator("#viz-error")).to_be_hidden()
    for token in (first, second):
        assert_no_token_logged(console, token)


def test_unentitled_user_gets_a_typed_not_entitled_error_and_no_view(page: Page, local_stack: dict[str, Any]) -> None:
    who = user(local_stack, entitled=False)
    answers = TokenAnswers(page, local_stack["api_url"])
    tableau_requests: list[str] = []
    page.on("request", lambda r: tableau_requests.append(r.url) if "/auth/embed/" in r.url else None)
    page.add_init_script(
        "new MutationObserver(() => { if (document.querySelector('tableau-viz')) window.__vizCreated = true; })"
        ".observe(document, { childList: true, subtree: true });"
    )

    click_sign_in(page, local_stack, who)

    error = page.locator("#token-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-error-name", "TokenBrokerError")
    expect(error).to_have_attribute("data-error-kind", "not_entitled")
    expect(error).to_have_attribute("data-error-status", "403")
    expect(error).to_have_attribute("data-error-code", "not_entitled")
    expect(error).to_contain_text("not_entitled")
    assert answers.statuses() == [403], "a 403 is not retried"
    expect(page.locator("tableau-viz")).to_have_count(0)
    assert page.evaluate("window.__vizCreated === true") is False, "a <tableau-viz> was created"
    assert tableau_requests == []
    assert frames_with_rows(page) == []
