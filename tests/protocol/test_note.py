"""C2SP signed notes, checkpoints and witness cosignatures, beyond the published vectors."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import InvalidInput, InvalidNote
from parley.protocol import (
    ALG_COSIGNATURE,
    ALG_ED25519,
    MAX_SIGNATURES,
    Checkpoint,
    Ed25519Signer,
    NoteSignature,
    NoteVerifier,
    cosign,
    cosignature_vkey,
    format_signature_line,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_vkey,
    sign_note,
    verify_cosignature,
    vkey,
)

LOG = Ed25519Signer.generate()
WITNESS = Ed25519Signer.generate()
LOG_NAME = "us-eucom.parley.example/log"
WITNESS_NAME = "ru-genstaff.parley.example/witness"
LOG_KEY = parse_vkey(vkey(LOG_NAME, LOG.public_key))
WITNESS_KEY = parse_vkey(cosignature_vkey(WITNESS_NAME, WITNESS.public_key))
ROOT = bytes(range(32))

# Note text: anything but ASCII controls (newline aside) and lone surrogates.
note_chars = st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32)]) | st.just(
    "\n"
)
texts = st.text(note_chars, max_size=200).map(lambda t: t + "\n")
names = st.from_regex(r"[a-z0-9./_-]{1,40}", fullmatch=True)
lines = st.text(
    st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=40,
)
checkpoints = st.builds(
    Checkpoint,
    origin=lines,
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=3).map(tuple),
)


@given(texts, names)
def test_signed_note_opens_to_its_text(text: str, name: str) -> None:
    note = sign_note(text, name, LOG)
    verifier = parse_vkey(vkey(name, LOG.public_key))
    for form in (note, note.encode()):
        opened = open_note(form, [verifier])
        assert opened.text == text
        assert [s.name for s in opened.verified] == [name]
        assert opened.unverified == []


@given(texts, st.data())
def test_any_altered_byte_of_a_signed_note_is_rejected(text: str, data: st.DataObject) -> None:
    note = bytearray(sign_note(text, LOG_NAME, LOG).encode())
    at = data.draw(st.integers(0, len(note) - 1))
    note[at] = data.draw(st.integers(0, 255).filter(lambda b: b != note[at]))
    with pytest.raises(InvalidNote):
        open_note(bytes(note), [LOG_KEY])


def test_signature_line_format() -> None:
    sig = NoteSignature("example.com/foo", b"\x01\x02\x03\x04", b"\xff" * 3)
    assert format_signature_line(sig) == "\u2014 example.com/foo AQIDBP///w==\n"


@pytest.mark.parametrize(
    ("text", "name", "reason"),
    [
        ("no final newline", LOG_NAME, "must end in a newline"),
        ("tab\there\n", LOG_NAME, "control character U\\+0009"),
        ("fine\n", "two words", "key name"),
        ("fine\n", "a+b", "key name"),
        ("fine\n", "", "key name"),
    ],
)
def test_sign_note_refuses_what_no_verifier_would_accept(text: str, name: str, reason: str) -> None:
    with pytest.raises(InvalidNote, match=reason):
        sign_note(text, name, LOG)


def many_signatures(count: int) -> str:
    note = sign_note("text\n", LOG_NAME, LOG)
    other = NoteSignature("other.example", b"\0\0\0\0", b"x" * 64)
    return note + format_signature_line(other) * (count - 1)


def test_a_note_may_carry_up_to_the_signature_limit() -> None:
    assert len(open_note(many_signatures(16), [LOG_KEY]).verified) == 1
    assert len(open_note(many_signatures(MAX_SIGNATURES), [LOG_KEY]).verified) == 1
    with pytest.raises(InvalidNote, match="malformed note: 101 signatures"):
        open_note(many_signatures(MAX_SIGNATURES + 1), [LOG_KEY])


def test_every_signature_by_a_trusted_key_must_verify() -> None:
    note = sign_note("text\n", LOG_NAME, LOG)
    forged = NoteSignature(LOG_NAME, LOG_KEY.key_id, b"\0" * 64)
    with pytest.raises(InvalidNote, match=r"^invalid signature by"):
        open_note(note + format_signature_line(forged), [LOG_KEY])


def test_non_canonical_base64_is_malformed() -> None:
    note = sign_note("text\n", LOG_NAME, LOG)
    # 68 bytes end in one '=': the digit before it has 2 unused bits; setting one must not pass.
    last = note.rindex("=")
    digit = note[last - 1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = note[: last - 1] + alphabet[alphabet.index(digit) ^ 1] + note[last:]
    assert base64.b64decode(twin.split(" ")[-1]) == base64.b64decode(note.split(" ")[-1])
    with pytest.raises(InvalidNote, match="malformed note"):
        open_note(twin, [LOG_KEY])


def test_vkey_round_trip_and_key_id() -> None:
    assert NoteVerifier.from_key(LOG_NAME, LOG.public_key) == LOG_KEY
    assert LOG_KEY.alg == ALG_ED25519
    assert WITNESS_KEY.alg == ALG_COSIGNATURE
    assert WITNESS_KEY.key_id == key_id(WITNESS_NAME, WITNESS.public_key, ALG_COSIGNATURE)
    assert WITNESS_KEY.key_id != key_id(WITNESS_NAME, WITNESS.public_key)


def test_verifier_needs_a_32_byte_key_of_a_known_algorithm() -> None:
    with pytest.raises(InvalidNote, match="unsupported key"):
        NoteVerifier.from_key(LOG_NAME, b"\0" * 31)
    with pytest.raises(InvalidNote, match="unsupported key"):
        NoteVerifier.from_key(LOG_NAME, LOG.public_key, alg=0x02)


def test_signer_from_seed_needs_32_bytes() -> None:
    seed = bytes(range(32))
    assert Ed25519Signer.from_seed(seed).public_key == Ed25519Signer.from_seed(seed).public_key
    with pytest.raises(InvalidInput, match="32 bytes, not 31"):
        Ed25519Signer.from_seed(seed[:31])


# Checkpoints -------------------------------------------------------------------------------


@given(checkpoints)
def test_checkpoint_body_parses_back(checkpoint: Checkpoint) -> None:
    assert parse_checkpoint(checkpoint.body(), checkpoint.origin) == checkpoint


def test_checkpoint_body_format() -> None:
    checkpoint = Checkpoint("example.com/log", 20852163, ROOT, ("ext",))
    assert checkpoint.body() == (
        "example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next\n"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("log\n007\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "leading zeros"),
        ("log\n+7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "leading zeros"),
        (
            "log\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
            "out of range",
        ),
        ("log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "31 bytes, 32 expected"),
        ("log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", "not canonical base64"),
        ("log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "end in a newline"),
        ("log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n", "extension line"),
        ("log\n7\n", "2 line\\(s\\)"),
        ("\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin line"),
        ("lo\rg\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "U\\+000D"),
    ],
)
def test_parse_checkpoint_names_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(InvalidNote, match=reason):
        parse_checkpoint(text)


def test_parse_checkpoint_checks_the_origin_first() -> None:
    with pytest.raises(InvalidNote, match=r"^origin mismatch"):
        parse_checkpoint("other\nbad\nroot\n", expected_origin="log")


def test_checkpoint_refuses_fields_it_cannot_write() -> None:
    with pytest.raises(InvalidNote, match="origin line"):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(InvalidNote, match="out of range"):
        Checkpoint("log", -1, ROOT)
    with pytest.raises(InvalidNote, match="33 bytes"):
        Checkpoint("log", 1, ROOT + b"\0")
    with pytest.raises(InvalidNote, match="extension line"):
        Checkpoint("log", 1, ROOT, ("",))


# Cosignatures ------------------------------------------------------------------------------

BODY = Checkpoint(LOG_NAME, 42, ROOT).body()
TIME = 1_770_300_000


def test_cosignature_verifies_and_returns_its_time() -> None:
    sig = cosign(BODY, WITNESS_NAME, WITNESS, TIME)
    assert sig.key_id == WITNESS_KEY.key_id
    assert len(sig.signature) == 72
    assert int.from_bytes(sig.signature[:8], "big") == TIME
    assert verify_cosignature(BODY, sig, WITNESS_NAME, WITNESS.public_key) == TIME


def test_cosignature_is_over_the_exact_body_and_time() -> None:
    sig = cosign(BODY, WITNESS_NAME, WITNESS, TIME)
    other_body = Checkpoint(LOG_NAME, 43, ROOT).body()
    with pytest.raises(InvalidNote, match="does not verify"):
        verify_cosignature(other_body, sig, WITNESS_NAME, WITNESS.public_key)
    later = NoteSignature(sig.name, sig.key_id, (TIME + 1).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(InvalidNote, match="does not verify"):
        verify_cosignature(BODY, later, WITNESS_NAME, WITNESS.public_key)


def test_cosignature_by_another_witness_is_named() -> None:
    sig = cosign(BODY, WITNESS_NAME, WITNESS, TIME)
    with pytest.raises(InvalidNote, match=r"^cosignature is by ru-genstaff"):
        verify_cosignature(BODY, sig, "ae-mediator.parley.example/witness", WITNESS.public_key)
    with pytest.raises(InvalidNote, match=r"^cosignature is by ru-genstaff"):
        verify_cosignature(BODY, sig, WITNESS_NAME, LOG.public_key)


def test_cosign_refuses_a_body_that_is_no_checkpoint_or_a_time_out_of_range() -> None:
    with pytest.raises(InvalidNote, match="line"):
        cosign("hello\n", WITNESS_NAME, WITNESS, TIME)
    with pytest.raises(InvalidNote, match="timestamp"):
        cosign(BODY, WITNESS_NAME, WITNESS, 2**63)
    with pytest.raises(InvalidNote, match="timestamp"):
        cosign(BODY, WITNESS_NAME, WITNESS, -1)


def test_cosigned_checkpoint_opens_with_the_log_and_witness_keys() -> None:
    note = sign_note(BODY, LOG_NAME, LOG)
    note += format_signature_line(cosign(BODY, WITNESS_NAME, WITNESS, TIME))
    opened = open_checkpoint(note, LOG_NAME, LOG_KEY, [WITNESS_KEY])
    assert opened.checkpoint == Checkpoint(LOG_NAME, 42, ROOT)
    assert opened.log_signature.name == LOG_NAME
    assert [s.name for s in opened.cosignatures] == [WITNESS_NAME]
    # A peer that does not trust this witness still accepts the log's checkpoint.
    alone = open_checkpoint(note, LOG_NAME, LOG_KEY)
    assert (alone.cosignatures, [s.name for s in alone.unverified]) == ([], [WITNESS_NAME])


def test_a_cosignature_alone_does_not_make_a_checkpoint() -> None:
    note = BODY + "\n" + format_signature_line(cosign(BODY, WITNESS_NAME, WITNESS, TIME))
    with pytest.raises(InvalidNote, match=r"^no log signature"):
        open_checkpoint(note, LOG_NAME, LOG_KEY, [WITNESS_KEY])


def test_a_forged_cosignature_rejects_the_checkpoint() -> None:
    sig = cosign(BODY, WITNESS_NAME, WITNESS, TIME)
    forged = NoteSignature(sig.name, sig.key_id, sig.signature[:8] + bytes(64))
    note = sign_note(BODY, LOG_NAME, LOG) + format_signature_line(forged)
    with pytest.raises(InvalidNote, match=rf"^invalid signature by {WITNESS_NAME}"):
        open_checkpoint(note, LOG_NAME, LOG_KEY, [WITNESS_KEY])


def test_checkpoint_from_another_log_is_an_origin_mismatch() -> None:
    note = sign_note(BODY, LOG_NAME, LOG)
    with pytest.raises(InvalidNote, match=r"^origin mismatch"):
        open_checkpoint(note, "someone-else/log", LOG_KEY)
