"""The console's pages over the node's app: sign-in, the session cookie and its idle expiry,
CSRF refusals, the security headers, language and direction, the inbox and its order."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from parley.api import ACCESS_LOGGER
from parley.clock import ManualClock
from parley.services import Principal, Role
from parley.web._lists import SCREENFUL
from parley.web._live import _messages
from parley.web._sound import flash_wav
from tests.conftest import PASSWORD
from tests.web.conftest import Console, client_of, csrf_of

pytestmark = pytest.mark.anyio

TEMPLATES = Path(__file__).parents[2] / "src" / "parley" / "web" / "templates"
PAGES = ["/console/", "/console/channels", "/console/alerts"]


def cookie_header(response: httpx.Response, name: str) -> str:
    (found,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    return found


def inbox_ids(html: str) -> list[str]:
    return re.findall(r'data-item="([0-9a-f]+)"', html)


# -- signing in ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [*PAGES, "/console/channels/ch_x"])
async def test_pages_behind_sign_in_send_the_browser_to_it(console: Console, path: str) -> None:
    response = await console.client.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


async def test_what_an_open_page_fetches_gets_a_401_that_htmx_follows(console: Console) -> None:
    response = await console.client.get("/console/live/inbox", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/console/login"


async def test_sign_in_sets_an_http_only_strict_cookie_and_opens_the_inbox(
    console: Console,
) -> None:
    response = await console.sign_in()

    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    cookie = cookie_header(response, "parley_session_us-eucom").lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console/" in cookie
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    inbox = await console.client.get("/console/")
    assert inbox.status_code == 200
    assert "duty1" in inbox.text


async def test_the_cookie_is_secure_when_the_node_is_served_over_tls(console: Console) -> None:
    async with client_of(console.node, "https://node") as client:
        form = await client.get("/console/login")
        response = await client.post(
            "/console/login",
            data={"csrf": csrf_of(form), "username": "duty1", "password": PASSWORD},
        )

    assert "secure" in cookie_header(response, "parley_session_us-eucom").lower()
    assert "secure" in cookie_header(form, "parley_sign_in_us-eucom").lower()


async def test_a_wrong_password_is_refused_on_the_sign_in_page(console: Console) -> None:
    response = await console.sign_in(password="not the password")

    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert "parley_session_us-eucom" not in response.headers.get("set-cookie", "")


async def test_sign_in_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.client.get("/console/login")
    response = await console.client.post(
        "/console/login", data={"username": "duty1", "password": PASSWORD}
    )

    assert response.status_code == 403
    assert "parley_session_us-eucom" not in response.headers.get("set-cookie", "")


async def test_no_token_is_ever_in_a_url_or_a_page(console: Console) -> None:
    await console.sign_in()
    token = console.client.cookies["parley_session_us-eucom"].split(".")[0]
    await console.from_peer()

    for path in [*PAGES, f"/console/channels/{console.channel}", "/console/live/inbox"]:
        page = await console.client.get(path)
        assert token not in page.text
        assert not re.search(r"(href|action|src|hx-\w+)=\"[^\"]*token", page.text)


async def test_sign_out_revokes_the_token(console: Console) -> None:
    await console.sign_in()
    token = console.client.cookies["parley_session_us-eucom"].split(".")[0]

    response = await console.client.post("/console/logout", data={"csrf": await console.csrf()})

    assert response.headers["location"] == "/console/login"
    api = await console.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


async def test_an_idle_session_is_signed_out_and_its_token_revoked(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    token = console.client.cookies["parley_session_us-eucom"].split(".")[0]
    idle = console.node.settings.console_idle_s

    clock.advance(timedelta(seconds=idle - 1))
    assert (await console.client.get("/console/")).status_code == 200  # activity: renewed
    clock.advance(timedelta(seconds=idle - 1))
    assert (await console.client.get("/console/live/inbox")).status_code == 200
    clock.advance(timedelta(seconds=2))  # the live fetch did not renew it
    response = await console.client.get("/console/")

    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?idle=1"
    api = await console.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    page = await console.client.get("/console/login?idle=1")
    assert "signed out after a time without activity" in page.text


async def test_a_forged_cookie_is_no_session(console: Console) -> None:
    await console.sign_in()
    token, last, _ = console.client.cookies["parley_session_us-eucom"].split(".")
    console.client.cookies.clear()
    console.client.cookies.set(
        "parley_session_us-eucom", f"{token}.{last}.forged", path="/console/"
    )

    assert (await console.client.get("/console/")).status_code == 303


# -- CSRF ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "wrong"])
async def test_state_changing_forms_without_the_sessions_csrf_token_do_nothing(
    console: Console, token: str | None
) -> None:
    await console.sign_in()
    sent = await console.from_peer()
    csrf = {} if token is None else {"csrf": token}
    channel = console.channel
    posts = {
        f"/console/channels/{channel}/events/{sent.event.id}/ack": {},
        f"/console/channels/{channel}/messages": {"text": "forged", "precedence": "flash"},
        "/console/language": {"lang": "ar"},
        "/console/logout": {},
    }

    for path, fields in posts.items():
        response = await console.client.post(path, data={**fields, **csrf})
        assert response.status_code == 403, path
        assert "Form refused" in response.text

    inbox = await console.client.get("/console/")
    assert inbox_ids(inbox.text) == [sent.event.id]  # not acknowledged
    assert 'lang="en"' in inbox.text  # language unchanged, still signed in
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    views, _ = console.node.channels.events(principal, channel)
    assert [v.event.body.get("text") for v in views if v.event.type == "message"] == ["Line check"]


async def test_a_json_post_is_no_form(console: Console) -> None:
    await console.sign_in()
    response = await console.client.post(
        "/console/language", json={"lang": "ar", "csrf": await console.csrf()}
    )

    assert response.status_code == 403


# -- headers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/console/login",
        "/console/",
        "/console/static/console.js",
        "/console/static/vendor/htmx.org/htmx.min.js",
        "/console/flash.wav",
    ],
)
async def test_every_console_response_carries_the_security_headers(
    console: Console, path: str
) -> None:
    response = await console.client.get(path)

    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_pages_are_never_cached_and_the_api_keeps_its_own_headers(console: Console) -> None:
    await console.sign_in()

    assert (await console.client.get("/console/")).headers["cache-control"] == "no-store"
    assert "content-security-policy" not in (await console.client.get("/api/v1/health")).headers


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_inline_script_style_or_handler(template: str) -> None:
    html = (TEMPLATES / template).read_text("utf-8")

    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "hx-on" not in html


# -- language and direction ----------------------------------------------------------------------
async def test_arabic_pages_run_right_to_left_with_ids_isolated(console: Console) -> None:
    await console.sign_in()
    await console.from_peer()

    changed = await console.client.post(
        "/console/language", data={"lang": "ar", "next": "/console/", "csrf": await console.csrf()}
    )
    inbox = await console.client.get(changed.headers["location"])

    assert '<html lang="ar" dir="rtl">' in inbox.text
    assert "الوارد" in inbox.text  # Inbox
    assert "تأكيد الاستلام" in inbox.text  # Acknowledge
    assert '<bdi class="ident">ru-genstaff</bdi>' in inbox.text
    assert re.search(
        r"<time datetime=\"[^\"]+\"><bdi>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ</bdi>", inbox.text
    )


async def test_a_message_keeps_its_own_language_in_a_page_of_another(console: Console) -> None:
    await console.sign_in()
    sent = await console.from_peer(text="Line check")
    await console.client.post(
        "/console/language", data={"lang": "ar", "next": "/console/", "csrf": await console.csrf()}
    )

    inbox = await console.client.get("/console/")
    timeline = await console.client.get(f"/console/channels/{sent.event.channel}")

    for page in (inbox, timeline):
        assert '<div class="text" dir="auto" lang="en">Line check</div>' in page.text


async def test_the_language_set_through_the_api_is_the_consoles(console: Console) -> None:
    await console.sign_in()
    token = console.client.cookies["parley_session_us-eucom"].split(".")[0]

    response = await console.client.put(
        "/api/v1/me/language", json={"lang": "ru"}, headers={"Authorization": f"Bearer {token}"}
    )
    inbox = await console.client.get("/console/")

    assert response.status_code == 204
    assert '<html lang="ru" dir="ltr">' in inbox.text
    assert "Входящие" in inbox.text


async def test_the_sign_in_page_speaks_the_browsers_language(console: Console) -> None:
    page = await console.client.get("/console/login", headers={"Accept-Language": "uk,en;q=0.5"})
    chosen = await console.client.get("/console/login?lang=ar")

    assert '<html lang="uk" dir="ltr">' in page.text
    assert "Увійти" in page.text
    assert '<html lang="ar" dir="rtl">' in chosen.text


async def test_an_unknown_language_is_refused(console: Console) -> None:
    await console.sign_in()

    response = await console.client.post(
        "/console/language", data={"lang": "fr", "csrf": await console.csrf()}
    )

    assert response.status_code == 422


# -- the inbox -----------------------------------------------------------------------------------
async def test_inbox_orders_by_precedence_then_deadline(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    routine = await console.from_peer("routine", "routine")
    early_immediate = await console.from_peer("immediate", "first immediate")
    clock.advance(timedelta(minutes=1))
    late_immediate = await console.from_peer("immediate", "second immediate")
    flash = await console.from_peer("flash", "flash")
    await console.node.channels.post_message(
        Principal("duty1", Role.OPERATOR, console.node.party),
        console.channel,
        precedence="flash",
        text="our own: not in our inbox",
        lang="en",
    )

    inbox = await console.client.get("/console/")

    expected = [flash, early_immediate, late_immediate, routine]
    assert inbox_ids(inbox.text) == [v.event.id for v in expected]
    assert 'data-precedence="flash"' in inbox.text
    assert 'data-deadline="2026-02-05T14:11:00.000Z"' in inbox.text  # the flash one's


async def test_an_item_past_its_deadline_is_marked_overdue(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    await console.from_peer("flash")
    clock.advance(timedelta(minutes=11))

    inbox = await console.client.get("/console/live/inbox")

    assert re.search(r'class="item overdue"[^>]*data-precedence="flash"', inbox.text)
    assert "00:01:00" in inbox.text


async def test_acknowledging_takes_the_item_out_of_the_inbox(console: Console) -> None:
    await console.sign_in()
    first = await console.from_peer("flash")
    second = await console.from_peer("routine")

    response = await console.client.post(
        f"/console/channels/{console.channel}/events/{first.event.id}/ack",
        data={"csrf": await console.csrf()},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert inbox_ids(response.text) == [second.event.id]  # the fragment htmx swaps in
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    view = console.node.channels.event(principal, console.channel, first.event.id)
    (peer,) = [m for m in view.members if m.party == console.node.party]
    assert peer.acknowledged_by == "duty1"


async def test_a_plain_form_acknowledges_and_goes_back(console: Console) -> None:
    await console.sign_in()
    sent = await console.from_peer()
    page = f"/console/channels/{console.channel}"

    response = await console.client.post(
        f"/console/channels/{console.channel}/events/{sent.event.id}/ack",
        data={"csrf": await console.csrf(), "next": page},
    )
    timeline = await console.client.get(page)

    assert (response.status_code, response.headers["location"]) == (303, page)
    assert 'acknowledged by <bdi class="ident">duty1</bdi>' in timeline.text
    assert inbox_ids((await console.client.get("/console/")).text) == []


async def test_a_form_never_sends_the_browser_to_another_site(console: Console) -> None:
    await console.sign_in()

    response = await console.client.post(
        "/console/language",
        data={"lang": "en", "next": "//elsewhere.example/", "csrf": await console.csrf()},
    )

    assert response.headers["location"] == "/console/"


# -- a long inbox, a screenful at a time ---------------------------------------------------------
HTMX = {"HX-Request": "true"}


def more_after(html: str) -> str | None:
    """The order key the page's "more" control asks the rest of a list from."""
    found = re.search(r'class="more" data-after="([^"]+)"', html)
    return None if found is None else found.group(1)


def count_of(html: str, name: str = "inbox") -> str:
    found = re.search(rf'<p id="{name}-count" class="count">(.*?)</p>', html)
    assert found is not None, html
    return re.sub(r"<[^>]+>", "", found.group(1))


async def long_inbox(console: Console, clock: ManualClock, length: int) -> list[str]:
    """``length`` routine messages from the peer, a second apart: their ids, most urgent first."""
    sent = []
    for n in range(length):
        sent.append((await console.from_peer("routine", f"Position report {n}")).event.id)
        clock.advance(timedelta(seconds=1))
    return sent


async def test_the_inbox_page_holds_a_screenful_and_the_rest_comes_after_it_in_order(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    sent = await long_inbox(console, clock, SCREENFUL + 12)

    page = await console.client.get("/console/")
    part = await console.client.get(
        "/console/live/inbox", params={"after": more_after(page.text), "limit": 5}
    )
    rest = await console.client.get("/console/live/inbox", params={"after": more_after(part.text)})

    assert inbox_ids(page.text) == sent[:SCREENFUL]
    assert count_of(page.text) == f"Showing {SCREENFUL} of {SCREENFUL + 12}"
    assert inbox_ids(part.text) == sent[SCREENFUL : SCREENFUL + 5]
    assert inbox_ids(rest.text) == sent[SCREENFUL + 5 :]
    assert more_after(rest.text) is None  # the end of the inbox


async def test_a_new_item_reaches_an_open_inbox_as_that_item_alone(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    await long_inbox(console, clock, SCREENFUL + 2)
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    stream = _messages(console.node, principal, lifetime_s=30)
    assert (await anext(stream)).data == "ready"

    pending = anext(stream)
    flash = await console.from_peer("flash", "Unplanned launch detected")
    said = {str(m.event): m.data for m in [await pending, await anext(stream)]}
    fragment = await console.client.get("/console/live/inbox/items", params={"id": said["inbox"]})
    page = await console.client.get("/console/")

    assert said["inbox"] == flash.event.id
    assert inbox_ids(fragment.text) == [flash.event.id]
    assert count_of(fragment.text) == f"Showing 1 of {SCREENFUL + 3}"
    assert len(fragment.content) < 4_000 < len(page.content) // 20  # one item, not a screenful
    assert inbox_ids(page.text)[0] == flash.event.id  # where the page puts it: first
    await stream.aclose()


async def test_acknowledging_the_first_item_pulls_the_next_one_in_and_keeps_the_order(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    sent = await long_inbox(console, clock, SCREENFUL + 2)
    page = await console.client.get("/console/")

    response = await console.client.post(
        f"/console/channels/{console.channel}/events/{sent[0]}/ack",
        data={"csrf": csrf_of(page), "after": more_after(page.text) or "", "limit": "1"},
        headers=HTMX,
    )
    rest = await console.client.get(
        "/console/live/inbox", params={"after": more_after(response.text)}
    )
    again = await console.client.get("/console/")

    assert inbox_ids(response.text) == [sent[SCREENFUL]]  # moves up into the screenful
    assert inbox_ids(rest.text) == [sent[SCREENFUL + 1]]
    assert inbox_ids(again.text) == sent[1 : SCREENFUL + 1]
    assert count_of(again.text) == f"Showing {SCREENFUL} of {SCREENFUL + 1}"


async def test_an_item_acknowledged_elsewhere_leaves_and_the_next_one_moves_up(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    sent = await long_inbox(console, clock, SCREENFUL + 2)
    page = await console.client.get("/console/")
    duty = Principal("duty1", Role.OPERATOR, console.node.party)

    await console.node.channels.acknowledge(duty, console.channel, sent[0])
    fragment = await console.client.get(
        "/console/live/inbox/items", params={"id": sent[0], "after": more_after(page.text)}
    )

    assert inbox_ids(fragment.text) == [sent[SCREENFUL]]  # not the one gone: the one after
    assert more_after(fragment.text) is not None  # one more waits past it
    assert count_of(fragment.text) == f"Showing 1 of {SCREENFUL + 1}"


async def test_a_limit_that_is_no_number_is_refused(console: Console) -> None:
    await console.sign_in()
    sent = await console.from_peer()

    response = await console.client.post(
        f"/console/channels/{console.channel}/events/{sent.event.id}/ack",
        data={"csrf": await console.csrf(), "limit": "all"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert inbox_ids((await console.client.get("/console/")).text) == [sent.event.id]


# -- channels ------------------------------------------------------------------------------------
async def test_a_message_sent_from_the_channel_page_shows_its_status(console: Console) -> None:
    await console.sign_in()
    page = f"/console/channels/{console.channel}"
    form = await console.client.get(page)
    key = re.search(r'name="key" value="([^"]+)"', form.text)
    assert key is not None
    fields = {"csrf": csrf_of(form), "key": key.group(1), "precedence": "priority"}

    sent = await console.client.post(
        f"{page}/messages", data={**fields, "text": "Exercise ends 18:00Z", "lang": "en"}
    )
    again = await console.client.post(
        f"{page}/messages", data={**fields, "text": "Exercise ends 18:00Z", "lang": "en"}
    )
    timeline = await console.client.get(page)

    assert (sent.status_code, sent.headers["location"]) == (303, page)
    assert again.status_code == 303
    assert timeline.text.count("Exercise ends 18:00Z") == 1  # a second click sends nothing
    assert "sent, not delivered yet" in timeline.text


async def test_a_refused_message_comes_back_with_the_nodes_reason(console: Console) -> None:
    await console.sign_in()
    page = f"/console/channels/{console.channel}"

    response = await console.client.post(
        f"{page}/messages",
        data={"csrf": await console.csrf(page), "text": "kept", "precedence": "urgent"},
    )

    assert response.status_code == 422
    assert "The node refused this message" in response.text
    assert "precedence" in response.text
    assert ">kept</textarea>" in response.text


# -- alerts --------------------------------------------------------------------------------------
async def test_an_operator_does_not_see_the_alerts(console: Console) -> None:
    await console.sign_in("duty1")

    page = await console.client.get("/console/alerts")

    assert page.status_code == 403
    assert 'href="/console/alerts"' not in (await console.client.get("/console/")).text


async def test_a_supervisor_sees_open_alerts_most_severe_first(
    console: Console, clock: ManualClock
) -> None:
    await console.from_peer("routine")
    await console.from_peer("flash")
    clock.advance(timedelta(days=2))
    await console.node.alerts.escalate_overdue()
    await console.sign_in("watch1")

    page = await console.client.get("/console/alerts")

    assert page.status_code == 200
    severities = re.findall(r'class="alert severity-(\w+)"', page.text)
    assert severities == ["critical", "low"]
    assert "Not acknowledged in time" in page.text


async def test_alerts_are_filtered_by_severity_and_resolved_ones_shown_on_request(
    console: Console, clock: ManualClock
) -> None:
    await console.from_peer("routine")
    flash = await console.from_peer("flash")
    clock.advance(timedelta(days=2))
    await console.node.alerts.escalate_overdue()
    duty = Principal("duty1", Role.OPERATOR, console.node.party)
    await console.node.channels.acknowledge(duty, console.channel, flash.event.id)  # late
    await console.sign_in("watch1")

    open_only = await console.client.get("/console/alerts")
    low_only = await console.client.get("/console/alerts?severity=low&state=all")
    everything = await console.client.get("/console/alerts?state=all")
    live = await console.client.get("/console/live/alerts?severity=critical&state=all")

    assert re.findall(r'class="alert severity-(\w+)', open_only.text) == ["low"]
    assert re.findall(r'class="alert severity-(\w+)', low_only.text) == ["low"]
    assert re.findall(r'class="alert severity-([\w ]+)"', everything.text) == [
        "low",
        "critical resolved",
    ]
    assert "Resolved" in everything.text
    assert re.findall(r'class="alert severity-([\w ]+)"', live.text) == ["critical resolved"]
    # The page's live fetches ask with its filter (static/live-list.js adds data-query).
    assert 'data-query="severity=low&amp;state=all"' in low_only.text


# -- live ----------------------------------------------------------------------------------------
async def test_the_stream_says_what_to_fetch_again(console: Console) -> None:
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    stream = _messages(console.node, principal, lifetime_s=30)

    first = await anext(stream)
    pending = anext(stream)
    await console.from_peer("flash")
    changed = [await pending, await anext(stream)]

    assert first.event == "inbox"
    assert sorted(str(m.event) for m in changed) == [f"channel-{console.channel}", "inbox"]
    await stream.aclose()


async def test_the_stream_names_the_items_that_changed_and_only_in_lists_they_change(
    console: Console,
) -> None:
    duty = Principal("duty1", Role.OPERATOR, console.node.party)
    stream = _messages(console.node, duty, lifetime_s=30)
    await anext(stream)
    channel = f"channel-{console.channel}"

    sent = await console.from_peer("flash")
    received = [await anext(stream), await anext(stream)]
    await console.node.channels.acknowledge(duty, console.channel, sent.event.id)
    acked = [await anext(stream), await anext(stream)]
    own, _ = await console.node.channels.post_message(
        duty, console.channel, precedence="flash", text="ours", lang="en"
    )
    posted = await anext(stream)

    assert [(m.event, m.data) for m in received] == [
        (channel, sent.event.id),
        ("inbox", sent.event.id),
    ]
    assert acked[1].event == "inbox"
    assert acked[1].data == sent.event.id  # the event acknowledged leaves the inbox
    assert (posted.event, posted.data) == (channel, own.event.id)  # ours waits in no inbox here
    await stream.aclose()


async def test_new_alerts_reach_the_open_alerts_page_as_those_alerts_alone(
    console: Console, clock: ManualClock
) -> None:
    await console.from_peer("routine")
    await console.from_peer("flash")
    await console.sign_in("watch1")
    watch = Principal("watch1", Role.SUPERVISOR, console.node.party)
    stream = _messages(console.node, watch, lifetime_s=30)
    assert [(await anext(stream)).event for _ in range(2)] == ["alerts", "inbox"]
    page = await console.client.get("/console/alerts")

    clock.advance(timedelta(days=2))
    raised = await console.node.alerts.escalate_overdue()
    said = await anext(stream)  # published together: one message
    critical = next(str(a.id) for a in raised if a.severity == "critical")
    await console.sign_in("watch1")  # two days idle: signed out
    fragment = await console.client.get("/console/live/alerts/items", params={"id": critical})
    filtered = await console.client.get(
        "/console/live/alerts/items", params={"id": critical, "severity": "low"}
    )

    assert count_of(page.text, "alerts") == "Showing 0 of 0"
    assert (said.event, said.data) == ("alerts", " ".join(sorted(str(a.id) for a in raised)))
    assert re.findall(r'data-alert="(\d+)"', fragment.text) == [critical]
    assert count_of(fragment.text, "alerts") == "Showing 1 of 2"
    assert "data-alert=" not in filtered.text  # the page's filter holds for its live fetches
    await stream.aclose()


async def test_the_stream_ends_when_the_session_would_time_out(console: Console) -> None:
    principal = Principal("duty1", Role.OPERATOR, console.node.party)

    received = [m.event async for m in _messages(console.node, principal, lifetime_s=0.05)]

    assert received == ["inbox"]


def test_the_flash_alarm_is_a_short_wav() -> None:
    sound = flash_wav()

    assert sound[:4] == b"RIFF"
    assert sound[8:12] == b"WAVE"
    assert 8_000 < len(sound) < 40_000


async def test_the_access_line_of_a_console_page_names_its_operator(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    await console.sign_in()
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        page = await console.client.get("/console/")
    assert page.status_code == 200
    (line,) = [r.__dict__["context"] for r in caplog.records if r.name == ACCESS_LOGGER]
    assert (line["path"], line["operator"]) == ("/console/", "duty1")
