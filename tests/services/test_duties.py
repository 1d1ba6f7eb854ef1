"""Separation of duties: an account an admin makes waits for a second person, one person has
one account, and every step is in the audit trail."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from parley.clock import ManualClock, to_ms
from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, PermissionDenied
from parley.services import CONSOLE, Node, Principal, Role, record_audit
from parley.store import AuditRecord
from tests.conftest import PASSWORD, START, NodeFactory, as_role
from tests.services.test_notify import EXERCISE, _two_person_channel

pytestmark = pytest.mark.anyio
US = "us-eucom"


async def staffed(make_node: NodeFactory) -> Node:
    """A node whose host holder added two admins, a supervisor and an auditor."""
    node = make_node(US)
    for username, role in (
        ("admin", Role.ADMIN),
        ("admin2", Role.ADMIN),
        ("watch1", Role.SUPERVISOR),
        ("audit1", Role.AUDITOR),
    ):
        await node.operators.add(username, role.value, PASSWORD)
    return node


async def principal(node: Node, username: str) -> Principal:
    issued = await node.operators.login(username, PASSWORD, address="192.0.2.10")
    return node.operators.authenticate(issued.token, address="192.0.2.10")


def trail(node: Node, action: str | None = None) -> list[AuditRecord]:
    return node.store.list_audit(after=0, limit=1000, action=action)


async def test_accounts_added_at_the_console_are_active_and_say_so(
    make_node: NodeFactory, clock: ManualClock
) -> None:
    node = make_node(US)
    record = await node.operators.add("duty1", "operator", PASSWORD)
    named = await node.operators.add("duty2", "operator", PASSWORD, person="SN-0002")

    assert (record.pending, record.person, record.created_by) == (False, "duty1", CONSOLE)
    assert (named.person, named.created_ms) == ("SN-0002", to_ms(START))
    assert (await node.operators.login("duty1", PASSWORD)).username == "duty1"
    [entry, _] = trail(node, "operator.create")
    assert (entry.actor, entry.target, entry.address, entry.details) == (
        CONSOLE,
        "duty1",
        "local",
        {"role": "operator", "pending": False},
    )


@pytest.mark.parametrize("role", ["operator", "supervisor", "admin"])
async def test_an_account_an_admin_makes_that_may_speak_or_administer_waits_for_approval(
    make_node: NodeFactory, role: str
) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")

    record = await node.operators.create(admin, "new1", role, PASSWORD, "SN-0101")

    assert (record.pending, record.created_by) == (True, "admin")
    with pytest.raises(Forbidden) as refused:
        await node.operators.login("new1", PASSWORD, address="192.0.2.20")
    assert str(refused.value) == (
        "operator new1 waits for approval by a supervisor, or by an admin other than admin, "
        "before it may log in"
    )
    last = trail(node, "login")[-1]
    assert (last.actor, last.address, last.outcome) == ("new1", "192.0.2.20", "pending")


async def test_an_auditor_account_an_admin_makes_is_active_at_once(
    make_node: NodeFactory,
) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")

    record = await node.operators.create(admin, "audit2", "auditor", PASSWORD, "SN-0201")

    assert not record.pending
    assert (await node.operators.login("audit2", PASSWORD)).username == "audit2"


async def test_the_admin_who_made_an_account_cannot_approve_it_a_second_admin_can(
    make_node: NodeFactory, clock: ManualClock
) -> None:
    node = await staffed(make_node)
    admin, admin2 = await principal(node, "admin"), await principal(node, "admin2")
    await node.operators.create(admin, "watch2", "supervisor", PASSWORD, "SN-0301")

    with pytest.raises(Forbidden, match="admin made operator watch2: a second person"):
        await node.operators.approve(admin, "watch2")
    clock.advance(timedelta(minutes=5))
    approved = await node.operators.approve(admin2, "watch2")

    assert (approved.pending, approved.approved_by) == (False, "admin2")
    assert approved.approved_ms == to_ms(START + timedelta(minutes=5))
    assert (await node.operators.login("watch2", PASSWORD)).username == "watch2"
    assert [(e.actor, e.outcome, e.address) for e in trail(node, "operator.approve")] == [
        ("admin", "denied", "192.0.2.10"),
        ("admin2", "ok", "192.0.2.10"),
    ]
    with pytest.raises(Conflict, match="not waiting for approval"):
        await node.operators.approve(await principal(node, "watch1"), "watch2")


async def test_a_supervisor_may_approve_an_operator_may_not(make_node: NodeFactory) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")
    await node.operators.create(admin, "duty1", "operator", PASSWORD, "SN-0401")
    await node.operators.create(admin, "duty2", "operator", PASSWORD, "SN-0402")
    await node.operators.approve(await principal(node, "watch1"), "duty1")
    duty1 = await principal(node, "duty1")

    with pytest.raises(PermissionDenied, match="may not approve operators"):
        await node.operators.approve(duty1, "duty2")
    with pytest.raises(NotFound, match="no operator named ghost"):
        await node.operators.approve(admin, "ghost")


async def test_a_disabled_pending_account_cannot_be_approved(make_node: NodeFactory) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")
    await node.operators.create(admin, "duty1", "operator", PASSWORD, "SN-0501")
    await node.operators.disable(admin, "duty1")

    with pytest.raises(Conflict, match="operator duty1 is disabled"):
        await node.operators.approve(await principal(node, "admin2"), "duty1")


async def test_a_person_has_one_account_until_it_is_disabled(make_node: NodeFactory) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")

    with pytest.raises(Conflict, match="person watch1 already has an account"):
        await node.operators.create(admin, "watch1b", "supervisor", PASSWORD, "watch1")
    await node.operators.disable(admin, "watch1")
    record = await node.operators.create(admin, "watch1b", "supervisor", PASSWORD, "watch1")

    assert record.person == "watch1"
    disabled = node.store.get_operator("watch1")
    assert disabled is not None
    assert (disabled.changed_by, disabled.changed_ms) == ("admin", to_ms(START))


async def test_an_admin_disables_neither_its_own_account_nor_the_last_active_admin(
    make_node: NodeFactory,
) -> None:
    node = await staffed(make_node)
    admin = await principal(node, "admin")
    await node.operators.create(admin, "admin3", "admin", PASSWORD, "SN-0501")  # pending

    with pytest.raises(Conflict, match="admin cannot disable its own account"):
        await node.operators.disable(admin, "admin")
    await node.operators.disable(admin, "admin2")
    console = Principal(CONSOLE, Role.ADMIN, US)
    with pytest.raises(Conflict, match="admin is the last active admin of this node"):
        await node.operators.disable(console, "admin")
    with pytest.raises(NotFound, match="no operator named ghost"):
        await node.operators.disable(admin, "ghost")

    await node.operators.disable(admin, "admin3")  # waiting for approval: not active yet
    remaining = {o.username: o.disabled for o in node.store.list_operators() if o.role == "admin"}
    assert remaining == {"admin": False, "admin2": True, "admin3": True}
    assert [e.target for e in trail(node, "operator.disable")] == ["admin2", "admin3"]


@pytest.mark.parametrize(
    ("username", "person", "field"),
    [
        ("console", "SN-1", "username"),
        ("new1", "", "person"),
        ("new1", " ", "person"),
        ("new1", "SN\n1", "person"),
        ("new1", "x" * 65, "person"),
    ],
)
async def test_a_reserved_name_or_a_person_that_names_nobody_is_refused(
    make_node: NodeFactory, username: str, person: str, field: str
) -> None:
    node = await staffed(make_node)

    with pytest.raises(InvalidInput) as refused:
        await node.operators.create(
            await principal(node, "admin"), username, "operator", PASSWORD, person
        )

    assert [e.field for e in refused.value.errors] == [field]
    assert node.store.get_operator(username) is None


async def test_one_persons_second_account_cannot_release_what_the_first_drafted(
    make_node: NodeFactory,
) -> None:
    us, ru = make_node(US), make_node("ru-genstaff")
    channel = await _two_person_channel(us, ru)
    await us.operators.add("duty1", "operator", PASSWORD, person="SN-0601")
    draft = await us.notifications.send(
        as_role(us, Role.OPERATOR, "duty1"), channel, "military_activity/1", EXERCISE
    )
    await us.operators.disable(as_role(us, Role.ADMIN), "duty1")
    await us.operators.add("watch9", "supervisor", PASSWORD, person="SN-0601")

    with pytest.raises(Forbidden, match="person who drafted a notification cannot also release"):
        await us.notifications.release(as_role(us, Role.SUPERVISOR, "watch9"), draft.id)

    released = await us.notifications.release(as_role(us, Role.SUPERVISOR, "watch1"), draft.id)
    assert released.event.body["released_by"] == "watch1"


async def test_the_trail_is_read_by_auditors_and_admins_in_pages(make_node: NodeFactory) -> None:
    node = await staffed(make_node)  # four accounts: four entries, then one login each below
    admin, auditor = await principal(node, "admin"), await principal(node, "audit1")

    first, following = node.audit.entries(auditor, limit=3)
    rest, last = node.audit.entries(admin, after=following or 0, limit=3)

    assert [e.id for e in first] == [1, 2, 3]
    assert following == 3
    assert [e.id for e in rest] == [4, 5, 6]
    assert last is None
    assert [e.actor for e in node.audit.entries(admin, action="login")[0]] == ["admin", "audit1"]
    with pytest.raises(PermissionDenied, match="may not read audit"):
        node.audit.entries(await principal(node, "watch1"))
    with pytest.raises(InvalidInput, match="limit"):
        node.audit.entries(admin, limit=1001)


async def test_an_entry_is_stored_and_logged_as_one_json_line(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    node = make_node(US)
    caplog.set_level(logging.INFO, logger="parley.audit")
    admin = Principal("admin", Role.ADMIN, US, address="192.0.2.30")

    await record_audit(node.ctx, admin, "key.rotate", US, fingerprint="ab cd")

    [entry] = trail(node)
    assert (entry.actor, entry.action, entry.target, entry.address, entry.outcome) == (
        "admin",
        "key.rotate",
        US,
        "192.0.2.30",
        "ok",
    )
    assert [json.loads(r.getMessage()) for r in caplog.records] == [
        {
            "action": "key.rotate",
            "operator": "admin",
            "node": US,
            "target": US,
            "address": "192.0.2.30",
            "outcome": "ok",
            "fingerprint": "ab cd",
        }
    ]


@pytest.mark.parametrize("name", ["password", "new_password", "token", "private_key", "PEM"])
async def test_a_detail_that_would_hold_a_secret_is_refused(
    make_node: NodeFactory, name: str
) -> None:
    node = make_node(US)

    with pytest.raises(ValueError, match="may not have a detail"):
        await record_audit(node.ctx, CONSOLE, "key.rotate", US, **{name: "x"})

    assert trail(node) == []
