"""Which key of a party signed an event: key periods, key changes and compromised keys."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.clock import format_ms
from parley.errors import BadSignature, EventRejected, InvalidInput, KeyCompromised
from parley.protocol import (
    Ed25519Signer,
    Event,
    KeyHistory,
    KeyPeriod,
    event_signing_key,
    fingerprint,
    sign_event,
    sign_key_change,
    ts_ms,
    validate_body,
)

T0 = ts_ms("2026-02-05T14:00:00.000Z")
KEYS = [Ed25519Signer.from_seed(bytes([n]) * 32) for n in range(1, 9)]


def history(*starts: int, compromised: dict[int, int] | None = None) -> KeyHistory:
    """KEYS[0] since it was pinned, then KEYS[i] from ``starts[i - 1]``."""
    bad = compromised or {}
    periods = [KeyPeriod(KEYS[0].public_key, None, bad.get(0))]
    periods += [KeyPeriod(KEYS[i + 1].public_key, s, bad.get(i + 1)) for i, s in enumerate(starts)]
    return KeyHistory("us-eucom", tuple(periods))


def message(signer: Ed25519Signer, at_ms: int, seq: int = 2) -> Event:
    return sign_event(
        signer,
        channel="ch_0123456789",
        author="us-eucom",
        seq=seq,
        prev="0" * 64,
        seen={},
        ts=format_ms(at_ms),
        type="message",
        body={},
    )


def change(
    old: Ed25519Signer,
    new: Ed25519Signer,
    at_ms: int,
    proof_by: Ed25519Signer | None = None,
    **body: Any,
) -> Event:
    fields = {
        "key": base64.b64encode(new.public_key).decode(),
        "previous": fingerprint(old.public_key),
        "valid_from": format_ms(at_ms + 1),
        "by": "admin",
        **body,
    }
    return sign_key_change(
        old,
        proof_by or new,
        channel="ch_0123456789",
        author="us-eucom",
        seq=2,
        prev="0" * 64,
        seen={},
        ts=format_ms(at_ms),
        body=fields,
    )


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=10**9), min_size=0, max_size=6),
    offset=st.integers(min_value=-(10**9), max_value=7 * 10**9),
)
def test_an_event_at_t_is_checked_with_the_key_valid_at_t(gaps: list[int], offset: int) -> None:
    starts = [T0 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    keys = history(*starts)
    at = T0 + offset

    key = event_signing_key(keys, message(KEYS[0], at)).key

    valid = [KEYS[0].public_key] + [
        KEYS[i + 1].public_key for i, start in enumerate(starts) if start <= at
    ]
    assert key == valid[-1]
    index = keys.index_at(at)
    period_start = keys.periods[index].valid_from_ms
    assert period_start is None or period_start <= at
    until = keys.valid_until_ms(index)
    assert until is None or at < until


@given(
    start=st.integers(min_value=1, max_value=10**6),
    since=st.integers(min_value=0, max_value=10**6),
    offset=st.integers(min_value=0, max_value=2 * 10**6),
)
def test_a_compromised_key_proves_nothing_it_signed_since(
    start: int, since: int, offset: int
) -> None:
    keys = history(T0 + start, compromised={0: T0 + since})
    at = T0 + offset
    if at >= T0 + start:
        assert event_signing_key(keys, message(KEYS[1], at)).key == KEYS[1].public_key
    elif at >= T0 + since:
        with pytest.raises(KeyCompromised):
            event_signing_key(keys, message(KEYS[0], at))
    else:
        assert event_signing_key(keys, message(KEYS[0], at)).key == KEYS[0].public_key


def test_a_key_change_is_checked_with_the_old_key_and_adds_the_new_one() -> None:
    signing = event_signing_key(history(), change(KEYS[0], KEYS[1], T0))

    assert signing.key == KEYS[0].public_key
    assert signing.adds == KeyPeriod(KEYS[1].public_key, T0 + 1)
    validate_body("key_change", change(KEYS[0], KEYS[1], T0).body)


def test_the_same_key_change_again_is_a_restatement_even_after_a_compromise() -> None:
    keys = history(T0 + 1, compromised={0: T0 - 10})

    signing = event_signing_key(keys, change(KEYS[0], KEYS[1], T0))

    assert (signing.key, signing.adds) == (KEYS[0].public_key, None)


def test_a_new_key_change_from_a_compromised_key_is_refused() -> None:
    keys = history(compromised={0: T0 - 10})
    with pytest.raises(KeyCompromised):
        event_signing_key(keys, change(KEYS[0], KEYS[1], T0))


@pytest.mark.parametrize(
    ("event", "error", "match"),
    [
        (change(KEYS[0], KEYS[1], T0, proof_by=KEYS[0]), BadSignature, "proof"),
        (change(KEYS[2], KEYS[1], T0), BadSignature, "previous key"),
        (change(KEYS[0], KEYS[0], T0), BadSignature, "conflicts"),
        (change(KEYS[0], KEYS[1], T0, valid_from=format_ms(T0)), EventRejected, "after its own"),
    ],
)
def test_a_key_change_that_does_not_hand_over_from_the_current_key_is_refused(
    event: Event, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        event_signing_key(history(), event)


def test_a_revocation_names_an_earlier_key_and_a_past_time() -> None:
    keys = history(T0)

    def revocation(printed: str, since: int) -> Event:
        body = {"key": printed, "compromised_since": format_ms(since), "by": "admin"}
        validate_body("key_revocation", body)
        return sign_event(
            KEYS[1],
            channel="ch_0123456789",
            author="us-eucom",
            seq=3,
            prev="0" * 64,
            seen={},
            ts=format_ms(T0 + 100),
            type="key_revocation",
            body=body,
        )

    assert event_signing_key(keys, revocation(fingerprint(KEYS[0].public_key), T0)).key == (
        KEYS[1].public_key
    )
    with pytest.raises(EventRejected, match="earlier key"):
        event_signing_key(keys, revocation(fingerprint(KEYS[1].public_key), T0))
    with pytest.raises(EventRejected, match="already past"):
        event_signing_key(keys, revocation(fingerprint(KEYS[0].public_key), T0 + 200))


GOOD_CHANGE = change(KEYS[0], KEYS[1], T0).body
GOOD_REVOCATION = {"key": GOOD_CHANGE["previous"], "compromised_since": "2026-02-05T14:00:00Z"}


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("key_change", {**GOOD_CHANGE, "key": "AAAA"}, "body.key"),
        ("key_change", {**GOOD_CHANGE, "previous": "12345"}, "body.previous"),
        ("key_change", {**GOOD_CHANGE, "proof": "AAAA"}, "body.proof"),
        ("key_change", {**GOOD_CHANGE, "valid_from": "soon"}, "body.valid_from"),
        ("key_revocation", {**GOOD_REVOCATION, "by": "admin", "key": "x"}, "body.key"),
        ("key_revocation", GOOD_REVOCATION, "body.by"),
    ],
)
def test_key_bodies_name_their_bad_field(kind: str, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_body(kind, body)
    assert caught.value.errors[0].field == field


def test_key_periods_must_follow_each_other() -> None:
    with pytest.raises(ValueError, match="follow"):
        KeyHistory("us-eucom", (KeyPeriod(KEYS[0].public_key, T0),))
    with pytest.raises(ValueError, match="follow"):
        KeyHistory(
            "us-eucom",
            (
                KeyPeriod(KEYS[0].public_key),
                KeyPeriod(KEYS[1].public_key, T0 + 5),
                KeyPeriod(KEYS[2].public_key, T0),
            ),
        )
