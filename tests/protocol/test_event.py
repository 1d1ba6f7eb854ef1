from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import BadSignature, EventRejected, InvalidInput
from parley.protocol import (
    Ed25519Signer,
    Event,
    canonical_bytes,
    event_from_dict,
    sign_event,
)

SIGNER = Ed25519Signer.generate()
party_ids = st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.text(max_size=40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    author = draw(party_ids)
    seq = draw(st.integers(1, 10**9))
    prev = None if seq == 1 else draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
    others = draw(
        st.dictionaries(party_ids.filter(lambda p: p != author), st.integers(0, 10**9), max_size=4)
    )
    return sign_event(
        SIGNER,
        channel="ch_" + draw(st.from_regex(r"[A-Za-z0-9]{8,20}", fullmatch=True)),
        author=author,
        seq=seq,
        prev=prev,
        seen=others,
        ts="2026-02-05T14:02:11.123Z",
        type=draw(st.sampled_from(["message", "ack", "receipt", "link_test"])),
        body=draw(st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
    )


@given(events())
@settings(max_examples=200)
def test_any_event_round_trips_through_its_wire_form(event: Event) -> None:
    wire = json.loads(json.dumps(event.to_dict()))
    parsed = event_from_dict(wire)
    assert parsed == event
    assert parsed.id == event.id
    parsed.verify(SIGNER.public_key)


@given(events(), st.data())
@settings(max_examples=200)
def test_any_single_byte_change_is_detected(event: Event, data: st.DataObject) -> None:
    signed = event.signed_bytes()
    index = data.draw(st.integers(0, len(signed) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = bytearray(signed)
    tampered[index] ^= flip
    try:
        parsed = event_from_dict(json.loads(bytes(tampered)))
        parsed.verify(SIGNER.public_key)
    except (EventRejected, ValueError):
        return  # refused: not JSON, not an event, or the signature no longer verifies
    # The only changes that survive are those that canonicalize back to the same bytes.
    assert parsed.signed_bytes() == signed


def test_canonical_bytes_follow_rfc8785_key_order_and_number_form() -> None:
    assert canonical_bytes({"b": 1, "a": [1.0, "é"], "€": None}) == (
        '{"a":[1,"é"],"b":1,"€":null}'.encode()
    )


def _first_message() -> Event:
    return sign_event(
        SIGNER,
        channel="ch_abcdefgh12",
        author="us-eucom",
        seq=1,
        prev=None,
        seen={},
        ts="2026-02-05T14:02:11.123Z",
        type="message",
        body={},
    )


def test_event_id_is_sha256_of_canonical_bytes_with_signature() -> None:
    import hashlib

    event = _first_message()
    assert event.id == hashlib.sha256(canonical_bytes(event.to_dict())).hexdigest()


def test_signature_by_another_key_is_a_bad_signature() -> None:
    event = sign_event(
        Ed25519Signer.generate(),
        channel="ch_abcdefgh12",
        author="ru-genstaff",
        seq=1,
        prev=None,
        seen={},
        ts="2026-02-05T14:02:11.123Z",
        type="message",
        body={},
    )
    with pytest.raises(BadSignature, match="pinned key of ru-genstaff"):
        event.verify(SIGNER.public_key)


def _valid_wire() -> dict[str, object]:
    return sign_event(
        SIGNER,
        channel="ch_abcdefgh12",
        author="us-eucom",
        seq=2,
        prev="a" * 64,
        seen={"ru-genstaff": 3},
        ts="2026-02-05T14:02:11.123Z",
        type="message",
        body={},
    ).to_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": 0}, "event.seq"),
        ({"seq": "2"}, "event.seq"),
        ({"seq": True}, "event.seq"),
        ({"prev": None}, "event.prev"),
        ({"prev": "xyz"}, "event.prev"),
        ({"author": "US EUCOM"}, "event.author"),
        ({"channel": "hotline"}, "event.channel"),
        ({"seen": {"us-eucom": 1}}, "event.seen.us-eucom"),
        ({"seen": {"ru-genstaff": -1}}, "event.seen.ru-genstaff"),
        ({"seen": []}, "event.seen"),
        ({"ts": "2026-02-05 14:02"}, "event.ts"),
        ({"type": "Message!"}, "event.type"),
        ({"body": "text"}, "event.body"),
        ({"sig": 5}, "event.sig"),
        ({"v": 2}, "event.v"),
        ({"extra": 1}, "event.extra"),
    ],
)
def test_malformed_event_is_rejected_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    wire = {**_valid_wire(), **change}
    with pytest.raises(EventRejected) as caught:
        event_from_dict(wire)
    assert caught.value.errors[0].field == field


def test_missing_field_is_named() -> None:
    wire = _valid_wire()
    del wire["prev"]
    with pytest.raises(EventRejected, match=r"event\.prev: is required"):
        event_from_dict(wire)


def test_signature_that_is_not_base64_is_a_bad_signature() -> None:
    wire = {**_valid_wire(), "sig": "not base64!"}
    with pytest.raises(BadSignature):
        event_from_dict(wire).verify(SIGNER.public_key)


def test_signature_is_over_canonical_bytes_without_sig() -> None:
    event = event_from_dict(_valid_wire())
    unsigned = {k: v for k, v in event.to_dict().items() if k != "sig"}
    from parley.protocol import verify_signature

    assert verify_signature(
        SIGNER.public_key, canonical_bytes(unsigned), base64.b64decode(event.sig)
    )


def test_a_signature_spelt_with_other_spare_bits_is_refused() -> None:
    event = _first_message()
    # 64 bytes take 86 base64 digits: the last one carries 4 spare bits.
    last = event.sig[85]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    other = alphabet[alphabet.index(last) ^ 1]
    respelt = event_from_dict({**event.to_dict(), "sig": event.sig[:85] + other + "=="})
    assert respelt.id != event.id
    with pytest.raises(EventRejected, match="canonical base64"):
        respelt.verify(SIGNER.public_key)


@given(events(), st.text(max_size=100))
@settings(max_examples=200)
def test_a_parsed_event_keeps_exactly_its_canonical_forms(event: Event, sig: str) -> None:
    """The forms assembled around the body once are those RFC 8785 gives for the whole."""
    wire = {**event.to_dict(), "sig": sig}
    parsed = event_from_dict(json.loads(json.dumps(wire)))
    assert parsed.signed_bytes() == canonical_bytes(wire)
    unsigned = {k: v for k, v in wire.items() if k != "sig"}
    assert parsed.id == Event(**{**unsigned, "sig": sig}).id
    respelt = event_from_dict(json.loads(json.dumps(wire)))
    assert respelt.signed_bytes() == parsed.signed_bytes()


def test_an_event_verified_with_one_key_is_checked_again_with_another() -> None:
    event = event_from_dict(_valid_wire())
    event.verify(SIGNER.public_key)
    with pytest.raises(BadSignature):
        event.verify(Ed25519Signer.generate().public_key)
    event.verify(SIGNER.public_key)


def test_a_value_rfc_8785_cannot_represent_outside_the_body_is_refused_as_before() -> None:
    """Such an event parses, as it always did, and is refused when it is hashed."""
    wire = {**_valid_wire(), "seen": {"ru-genstaff": 2**60}}
    event = event_from_dict(wire)
    with pytest.raises(InvalidInput):
        event.signed_bytes()


# Strings that look like the members the signature goes between, to mislead a splice.
member_like = st.sampled_from(['","ts":"', ',"type":', ',"v":1}', '"sig":"', "\u2028", "\\"])
tricky_text = st.lists(st.one_of(member_like, st.text(max_size=6)), max_size=4).map("".join)


@given(events(), tricky_text, st.from_regex(r"[a-z][a-z_]{0,31}", fullmatch=True), st.data())
@settings(max_examples=300)
def test_signed_bytes_of_a_new_event_equal_its_full_canonicalisation(
    event: Event, ts: str, kind: str, data: st.DataObject
) -> None:
    body = data.draw(st.dictionaries(tricky_text, tricky_text | json_values, max_size=4))
    fields = event.to_dict() | {"ts": ts, "type": kind, "body": body}
    del fields["sig"], fields["v"]
    signed = sign_event(SIGNER, **fields)
    assert signed.signed_bytes() == canonical_bytes(signed.to_dict())
    assert signed.id == hashlib.sha256(canonical_bytes(signed.to_dict())).hexdigest()
    signed.verify(SIGNER.public_key)
