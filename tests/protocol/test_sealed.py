"""Sealed documents: each recipient opens, nobody else does, nothing altered opens."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import InvalidInput
from parley.protocol._sealed import (
    Sealed,
    commitment,
    new_exchange_key,
    open_sealed,
    public_of,
    salted,
    seal,
)

PARTIES = ("us-eucom", "ru-genstaff", "ae-mediator")
KEYS = {party: new_exchange_key() for party in PARTIES}
PUBLIC = {party: public_of(key) for party, key in KEYS.items()}
CONTEXT = b"exchange 00ff by us-eucom"


@settings(max_examples=25)
@given(st.binary(max_size=2000))
def test_every_recipient_opens_what_was_sealed(plaintext: bytes) -> None:
    sealed = seal(plaintext, PUBLIC, CONTEXT)
    assert sorted(sealed.wrapped) == sorted(PARTIES)
    for party in PARTIES:
        assert open_sealed(sealed, party, KEYS[party], CONTEXT) == plaintext


def test_a_party_it_was_not_sealed_to_cannot_open_it() -> None:
    sealed = seal(b"names", {"us-eucom": PUBLIC["us-eucom"]}, CONTEXT)
    with pytest.raises(InvalidInput, match="not sealed to ru-genstaff"):
        open_sealed(sealed, "ru-genstaff", KEYS["ru-genstaff"], CONTEXT)
    with pytest.raises(InvalidInput, match="cannot be opened"):
        open_sealed(sealed, "us-eucom", new_exchange_key(), CONTEXT)


def flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped"])
def test_an_altered_document_does_not_open(field: str) -> None:
    sealed = seal(b"names", PUBLIC, CONTEXT)
    if field == "wrapped":
        altered = dataclasses.replace(
            sealed, wrapped={**sealed.wrapped, "us-eucom": flip(sealed.wrapped["us-eucom"])}
        )
    elif field == "nonce":
        altered = dataclasses.replace(sealed, nonce=flip(sealed.nonce))
    else:
        altered = dataclasses.replace(sealed, ciphertext=flip(sealed.ciphertext))
    with pytest.raises(InvalidInput, match="cannot be opened"):
        open_sealed(altered, "us-eucom", KEYS["us-eucom"], CONTEXT)


def test_a_list_sealed_for_one_exchange_does_not_open_as_another() -> None:
    sealed = seal(b"names", PUBLIC, CONTEXT)
    with pytest.raises(InvalidInput):
        open_sealed(sealed, "us-eucom", KEYS["us-eucom"], b"exchange 0100 by us-eucom")


def test_each_seal_uses_a_fresh_content_key_and_nonce() -> None:
    one, two = seal(b"names", PUBLIC, CONTEXT), seal(b"names", PUBLIC, CONTEXT)
    assert one.ciphertext != two.ciphertext
    assert one.nonce != two.nonce


def test_the_salt_hides_a_short_list_behind_its_commitment() -> None:
    document = {"persons": [{"name": "Иван Петров"}]}
    first, second = salted(document), salted(document)
    assert commitment(first) != commitment(second)
    assert json.loads(first)["persons"] == document["persons"]


def test_a_key_that_is_not_x25519_is_refused() -> None:
    with pytest.raises(InvalidInput, match="recipients"):
        seal(b"x", {}, CONTEXT)
    assert isinstance(seal(b"x", PUBLIC, CONTEXT), Sealed)
