"""Readiness of a node, with the reason when it is not, and the figures metrics read."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from parley.services import Role
from tests.conftest import as_role, pin_all

pytestmark = pytest.mark.anyio


@pytest.fixture
def node(make_node):
    made = make_node("us-eucom")
    made.health.running = True  # as while Node.run runs
    return made


def test_a_node_whose_store_writer_and_duties_work_is_ready(node):
    readiness = node.health.readiness()
    assert (readiness.ready, readiness.reasons) == (True, ())


def test_a_node_without_its_background_duties_is_not_ready(node):
    node.health.running = False
    assert node.health.readiness().reasons == ("the background duties are not running",)


def test_a_stopped_writer_makes_the_node_not_ready(node):
    node.store.close()
    readiness = node.health.readiness()
    assert not readiness.ready
    assert readiness.reasons == ("the store writer has stopped",)


def test_a_writer_long_on_one_commit_is_stuck(node):
    node.store.writer_stats.busy_since = time.monotonic() - 31
    (reason,) = node.health.readiness().reasons
    assert reason.startswith("the store writer has been on one commit for 3")
    node.store.writer_stats.busy_since = time.monotonic() - 1
    assert node.health.readiness().ready


def test_a_store_that_does_not_answer_or_is_behind_its_migrations_is_named(node, monkeypatch):
    monkeypatch.setattr(node.store, "schema_current", lambda: False)
    assert node.health.readiness().reasons == ("the database is not at the newest migration",)

    def broken() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(node.store, "self_party", broken)
    assert node.health.readiness().reasons == ("the store does not answer: OSError: disk gone",)


def test_the_schema_of_a_new_node_is_current(node):
    assert node.store.schema_current()


async def test_running_clocks_by_precedence_and_the_overdue(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {"ru-genstaff": "party"})
    await ru.ingest.receive(us.store.chain(opened.event.channel, us.party))
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
    for precedence in ("flash", "routine"):
        await us.channels.post_message(
            as_role(us, Role.OPERATOR),
            opened.event.channel,
            precedence=precedence,
            text="Line check",
            lang="en",
        )
    counts, overdue = us.health.running_clocks()
    assert counts == {("flash", "message"): 1, ("routine", "message"): 1}
    assert overdue == 0
    clock.advance(timedelta(seconds=us.settings.deadline_flash_s + 1))
    assert us.health.running_clocks()[1] == 1


def test_checkpoint_age_is_none_before_the_first(node):
    assert node.health.checkpoint_age_s() is None
