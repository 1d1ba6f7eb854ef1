"""The attacks of ``scripts/attacks.py``, every one, a few times each against a real node.

The node runs with small limits (two failed logins per username, three per address, four
channels per peer, a one-second body timeout) so that a few tries reach each defence, and
with cheap password hashing; the full run (``.venv/bin/python scripts/attacks.py``) keeps
the defaults. What each attack must get is the script's own judgement: no 5xx and no answer
it should not get, no row stored but audit entries (and what an attack declares), no
traceback in the node's log. One attack more, of a message the node rightly stores, shows
that the judgement fails what it should.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.attacks import ATTACKS, Answer, Attack, Target, invitation, run_attacks, table

SMALL = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "login_failures_per_username": 2,
    "login_failures_per_address": 3,
    "max_channels_opened_by_peer": 4,
    "unauthenticated_body_timeout_s": 1.0,
    "receipt_delay_s": 0.05,
    "log_delay_s": 0.05,
}
TRIES = 5  # past every small limit above: some tries are refused by the limit itself


def few(attack: Attack) -> int:
    return min(attack.count, TRIES)


def post(t: Target, i: int) -> Answer:
    body = {"precedence": "routine", "text": f"accepted {i}", "lang": "en"}
    path = f"/api/v1/channels/{t.hotline}/messages"
    return t.http.post(path, json=body, headers=t.auth("duty1")).status_code, ""


STORED = Attack("a message", 2, post, frozenset({422}), "", prepare=lambda t: t.hotline)


@pytest.mark.timeout(120)
def test_every_attack_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    *results, control = run_attacks(
        tmp_path, counts=few, settings=SMALL, attacks=[*ATTACKS, STORED]
    )

    shown = table(results)
    assert [r.attack for r in results] == [a.name for a in ATTACKS], shown
    assert not [r for r in results if r.failures], shown
    answers = {a.attempt: r.answers for a, r in zip(ATTACKS, results, strict=True)}
    assert all(answers[a.attempt].get("429") for a in ATTACKS if a.judge), shown  # throttled
    assert answers[invitation].get("422"), shown  # the peer reached its cap

    assert control.answers == {"201": 2}
    assert "2×201: not an answer it should get" in control.failures
    assert "stored +2 in events" in control.failures
