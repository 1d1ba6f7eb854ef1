"""The console's pages as the browser checks see them, and the browser that sees them.

One table, ``PAGES``: the accessibility checks (tests/web/a11y.py) run on every row, and
``make screenshots`` (scripts/screenshots.py) photographs every row that needs a sign-in.
A new page of the console is one more line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Browser, Page, Playwright, expect

__all__ = ["CHROMIUM", "PAGES", "ConsolePage", "launch", "sign_in", "visit", "wait_live"]

# Debian's Chromium (scripts/system-deps.sh); Playwright's own browser download is never used.
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class ConsolePage:
    name: str  # also the screenshot's file name
    path: str  # under the node's URL; "{channel}" stands for the hotline's id
    username: str | None  # the operator who sees it; None: before signing in
    ready: str  # a selector shown once the page has what it is for

    def url(self, node_url: str, channel: str = "", lang: str = "en") -> str:
        """Signed in, a page is in the operator's language; before, in the one asked for."""
        asked = "" if self.username else f"?lang={lang}"
        return node_url + self.path.format(channel=channel) + asked


PAGES = (
    ConsolePage("sign-in", "/console/login", None, ".sign-in"),
    ConsolePage("inbox", "/console/", "duty1", "[data-item]"),
    ConsolePage("channel", "/console/channels/{channel}", "duty1", "[data-event]"),
    ConsolePage("alerts", "/console/alerts", "watch1", "[data-alert]"),
    ConsolePage(
        "compose", "/console/channels/{channel}/compose/military_activity/1", "duty1", "form"
    ),
    ConsolePage("release-queue", "/console/drafts", "watch1", "#drafts"),
    ConsolePage("map", "/console/map", "duty1", '#situation-map[data-ready="true"]'),
    ConsolePage("agreements", "/console/agreements", "duty1", "main h1"),
    ConsolePage("talks", "/console/channels/{channel}/talks", "duty1", "[data-minutes]"),
    ConsolePage("exchanges", "/console/exchanges", "duty1", "[data-exchange]"),
)


def launch(playwright: Playwright) -> Browser:
    # The flash alarm plays without a click first, as it must on an unattended desk.
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
    )


def sign_in(page: Page, node_url: str, username: str, password: str) -> None:
    """Through the sign-in form, in whatever language the page is; lands on the inbox."""
    page.goto(f"{node_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click(".sign-in button")
    expect(page).to_have_url(f"{node_url}/console/")


def visit(
    page: Page, target: ConsolePage, node_url: str, channel: str = "", lang: str = "en"
) -> None:
    """Open a page and wait until it shows what it is for and, signed in, is live."""
    page.goto(target.url(node_url, channel, lang))
    page.locator(target.ready).first.wait_for()
    if target.username:
        wait_live(page)


def wait_live(page: Page) -> None:
    """Until the page's live stream is open (its state reads "Live", in the page's language)."""
    page.wait_for_function(
        "() => document.getElementById('live-state').textContent === document.body.dataset.live"
    )
