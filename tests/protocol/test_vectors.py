"""Test vectors from independent implementations, each checked exactly as labelled.

``vectors/`` holds copies of ``../shared/vectors`` (the folder next to the repository), so
the suite also runs from a clean clone; the data is verbatim, only the prose naming who
converted it was reworded. The files are data converted from
transparency-dev/merkle, transparency-dev/formats, golang.org/x/mod and the C2SP specs;
``vectors/README.md`` names the commits, the licences and what every field means.

Two documented places where Parley is stricter than the source implementations:
roots of the wrong length are rejected even between equal tree sizes, and a checkpoint's
root hash must be 32 bytes (the formats ``TestParseCheckpoint`` notes carry 6-byte roots).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from parley.errors import InvalidNote, InvalidProof
from parley.protocol import (
    EMPTY_ROOT,
    Ed25519Signer,
    leaf_hash,
    node_hash,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_vkey,
    root_of,
    sign_note,
    split_note,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "vectors"
FILES = ("README.md", "rfc9162-merkle.json", "signed-note.json", "checkpoint.json")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text("utf-8"))
    return data


MERKLE = load("rfc9162-merkle.json")
NOTES = load("signed-note.json")
CHECKPOINTS = load("checkpoint.json")


def cases(vectors: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [pytest.param(v, id=v[key]) for v in vectors]


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/vectors next to this checkout")
@pytest.mark.parametrize("name", [f for f in FILES if f.endswith(".json")])
def test_vector_copies_hold_the_data_of_the_shared_folder(name: str) -> None:
    assert _data(json.loads((VECTORS / name).read_text())) == _data(
        json.loads((SHARED / name).read_text())
    )


def _data(value: Any) -> Any:
    """The vectors without their prose (``source`` and ``semantics`` describe, never test)."""
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items() if k not in ("source", "semantics")}
    if isinstance(value, list):
        return [_data(v) for v in value]
    return value


# RFC 9162 Merkle tree ------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(MERKLE["hasher"], "desc"))
def test_hasher(case: dict[str, Any]) -> None:
    if case["kind"] == "empty_root":
        got = EMPTY_ROOT
    elif case["kind"] == "leaf":
        got = leaf_hash(bytes.fromhex(case["input"]))
    else:
        got = node_hash(bytes.fromhex(case["left"]), bytes.fromhex(case["right"]))
    assert got.hex() == case["want"]


@pytest.mark.parametrize("size", range(len(MERKLE["roots"])))
def test_root_rebuilt_from_the_leaves(size: int) -> None:
    leaves = [leaf_hash(x) for x in unhex(MERKLE["leaves"])[:size]]
    assert root_of(leaves).hex() == MERKLE["roots"][str(size)]


@pytest.mark.parametrize("level", sorted(MERKLE["node_hashes"]))
def test_complete_node_hashes(level: str) -> None:
    hashes = [leaf_hash(x) for x in unhex(MERKLE["leaves"])]
    width = 1 << int(level)
    want = [root_of(hashes[i : i + width]).hex() for i in range(0, len(hashes), width)]
    assert MERKLE["node_hashes"][level] == want


def verdict(check: Any) -> tuple[bool, str]:
    try:
        check()
    except InvalidProof as exc:
        return False, exc.detail
    return True, ""


@pytest.mark.parametrize("case", cases(MERKLE["inclusion"]))
def test_inclusion(case: dict[str, Any]) -> None:
    if case["leaf"] is not None:
        assert leaf_hash(bytes.fromhex(case["leaf"])).hex() == case["leaf_hash"]
    valid, reason = verdict(
        lambda: verify_inclusion(
            bytes.fromhex(case["leaf_hash"]),
            case["index"],
            case["size"],
            unhex(case["proof"]),
            bytes.fromhex(case["root"]),
        )
    )
    assert valid == case["valid"], reason


# Labelled valid upstream although both roots are 12 bytes: RFC 9162 hashes are 32 bytes.
SHORT_EQUAL_ROOTS = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"


@pytest.mark.parametrize("case", cases(MERKLE["consistency"]))
def test_consistency(case: dict[str, Any]) -> None:
    valid, reason = verdict(
        lambda: verify_consistency(
            case["size1"],
            case["size2"],
            unhex(case["proof"]),
            bytes.fromhex(case["root1"]),
            bytes.fromhex(case["root2"]),
        )
    )
    if case["name"] == SHORT_EQUAL_ROOTS:
        assert (valid, reason) == (False, "root1 is 12 bytes, 32 expected")
    else:
        assert valid == case["valid"], reason


# C2SP signed notes -----------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(NOTES["vkeys"], "vkey"))
def test_vkey(case: dict[str, Any]) -> None:
    if not case["valid"]:
        with pytest.raises(InvalidNote):
            parse_vkey(case["vkey"])
        return
    verifier = parse_vkey(case["vkey"])
    assert (verifier.name, verifier.key_id.hex(), verifier.alg, verifier.public_key.hex()) == (
        case["name"],
        case["key_id"],
        case["alg"],
        case["public_key"],
    )


def names(sigs: Any) -> list[str]:
    return [s.name for s in sigs]


@pytest.mark.parametrize("case", cases(NOTES["notes"]))
def test_open_note(case: dict[str, Any]) -> None:
    note = bytes.fromhex(case["note_hex"])
    verifiers = [parse_vkey(v) for v in case["verifiers"]]
    if not case["valid"]:
        with pytest.raises(InvalidNote) as exc:
            open_note(note, verifiers)
        assert exc.value.detail.startswith(case["error"])
        if case["error"] == "no verifiable signatures":
            text, sigs = split_note(note)
            assert names(sigs) == case["unverified_sigs"]
            assert text == case.get("parsed_text", text)
        return
    opened = open_note(note, verifiers)
    assert opened.text == case["text"]
    assert names(opened.verified) == case["verified_sigs"]
    assert names(opened.unverified) == case["unverified_sigs"]


def signer_from_skey(skey: str) -> tuple[str, Ed25519Signer]:
    """``PRIVATE+KEY+<name>+<key id>+base64(0x01 ‖ seed)``, the Go note package's key text."""
    _, _, name, _, key64 = skey.split("+", 4)
    key = base64.b64decode(key64)
    assert key[0] == 0x01
    return name, Ed25519Signer.from_seed(key[1:])


@pytest.mark.parametrize("case", cases(NOTES["signing"]))
def test_signing_is_byte_exact(case: dict[str, Any]) -> None:
    name, signer = signer_from_skey(case["skey"])
    assert sign_note(case["text"], name, signer) == case["want_note"]


# C2SP checkpoints ------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(CHECKPOINTS["bodies"]))
def test_checkpoint_body(case: dict[str, Any]) -> None:
    if not case["strict_valid"]:
        with pytest.raises(InvalidNote):
            parse_checkpoint(case["body"], case.get("expected_origin"))
        return
    checkpoint = parse_checkpoint(case["body"], case.get("expected_origin"))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash.hex()) == (
        case["origin"],
        case["size"],
        case["root_hex"],
    )
    assert checkpoint.body() == case["body"]


@pytest.mark.parametrize("case", cases(CHECKPOINTS["signed"]))
def test_signed_checkpoint(case: dict[str, Any]) -> None:
    log = parse_vkey(case["log_vkey"])
    witnesses = [parse_vkey(v) for v in case["witness_vkeys"]]

    def check() -> Any:
        return open_checkpoint(case["note"], case["expected_origin"], log, witnesses)

    if not case["valid"]:
        with pytest.raises(InvalidNote) as exc:
            check()
        assert exc.value.detail.startswith(case.get("error", ""))
        return
    if len(bytes.fromhex(case["root_hex"])) != 32:
        # Stricter than the source: the signatures hold, the 6-byte root does not.
        assert log.name in names(open_note(case["note"], [log, *witnesses]).verified)
        with pytest.raises(InvalidNote, match="root hash is 6 bytes, 32 expected"):
            check()
        return
    opened = check()
    assert (opened.checkpoint.origin, opened.checkpoint.size) == (case["origin"], case["size"])
    assert opened.checkpoint.root_hash.hex() == case["root_hex"]
    signed_by = [opened.log_signature.name, *names(opened.cosignatures)]
    assert signed_by == case.get("verified_sigs", signed_by)


@pytest.mark.parametrize("case", cases(CHECKPOINTS["parse_only"]))
def test_checkpoint_examples_parse(case: dict[str, Any]) -> None:
    text, sigs = split_note(case["note"])
    assert text == case["text"]
    assert [(s.name, s.key_id.hex(), len(s.signature)) for s in sigs] == [
        (s["name"], s["key_id"], s["sig_len"]) for s in case["signatures"]
    ]
    checkpoint = parse_checkpoint(text, case["origin"])
    assert (checkpoint.size, checkpoint.root_hash.hex()) == (case["size"], case["root_hex"])
