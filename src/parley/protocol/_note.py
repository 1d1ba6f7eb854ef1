"""C2SP signed notes, transparency log checkpoints and witness cosignatures.

- signed-note: text, a blank line, then lines ``— <name> base64(key ID ‖ signature)``.
- tlog-checkpoint: a note whose text is ``origin\\nsize\\nbase64(root)\\n[extension lines]``.
- tlog-cosignature (cosignature/v1): a witness's Ed25519 signature over
  ``cosignature/v1\\ntime <t>\\n`` + the checkpoint text, sent as ``timestamp ‖ signature``.

Base64 must be canonical everywhere (RFC 4648 allows decoders to insist), so a note has
exactly one byte form: flipping an unused padding bit cannot make a second valid copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from parley.errors import InvalidNote

from ._keys import Signer, verify_signature
from ._merkle import HASH_SIZE

__all__ = [
    "ALG_COSIGNATURE",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteSignature",
    "NoteVerifier",
    "OpenedCheckpoint",
    "OpenedNote",
    "cosign",
    "cosignature_vkey",
    "format_signature_line",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_vkey",
    "sign_note",
    "split_note",
    "verify_cosignature",
    "vkey",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE = 0x04  # timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature)
# C2SP asks for at least 16; Go's reference stops at 100, and so do we.
MAX_SIGNATURES = 100

_SIG_PREFIX = "\u2014 "  # em dash, space
_COSIGNATURE_SIZE = 8 + 64
_MAX_TIMESTAMP = 2**63 - 1
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")  # controls but \n; lone surrogates
_HEX_KEY_ID = re.compile("[0-9a-fA-F]{8}")
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Decode canonical standard base64, or None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() or c < " " for c in name)


def _check_name(name: str) -> None:
    if not _valid_name(name):
        raise InvalidNote(f"key name {name!r} must be non-empty, without spaces or '+'")


def _cosigned_message(text: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime %d\n" % timestamp + text


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted key: signatures carrying this (name, key ID) must verify under it."""

    name: str
    key_id: bytes
    public_key: bytes
    alg: int = ALG_ED25519

    @classmethod
    def from_key(cls, name: str, public_key: bytes, alg: int = ALG_ED25519) -> NoteVerifier:
        _check_name(name)
        if alg not in (ALG_ED25519, ALG_COSIGNATURE) or len(public_key) != 32:
            raise InvalidNote(
                f"unsupported key for {name}: algorithm 0x{alg:02x}, {len(public_key)} bytes"
            )
        return cls(name, key_id(name, public_key, alg), public_key, alg)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if self.alg != ALG_COSIGNATURE:
            return verify_signature(self.public_key, text, signature)
        if len(signature) != _COSIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        return timestamp <= _MAX_TIMESTAMP and verify_signature(
            self.public_key, _cosigned_message(text, timestamp), signature[8:]
        )


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified: list[NoteSignature]
    """One signature per trusted key, in note order."""
    unverified: list[NoteSignature]
    """Signatures by keys the caller did not trust; ignored, kept for display."""


def _vkey(name: str, public_key: bytes, alg: int) -> str:
    verifier = NoteVerifier.from_key(name, public_key, alg)
    return f"{name}+{verifier.key_id.hex()}+{_b64(bytes([alg]) + public_key)}"


def vkey(name: str, public_key: bytes) -> str:
    """The verifier key text ``name+keyid+base64(0x01 ‖ key)`` that peers pin."""
    return _vkey(name, public_key, ALG_ED25519)


def cosignature_vkey(name: str, public_key: bytes) -> str:
    return _vkey(name, public_key, ALG_COSIGNATURE)


def parse_vkey(text: str) -> NoteVerifier:
    name, _, rest = text.partition("+")
    hex_id, _, key64 = rest.partition("+")
    key = _unb64(key64)
    if not _valid_name(name) or not _HEX_KEY_ID.fullmatch(hex_id) or not key:
        raise InvalidNote(f"malformed verifier key {text!r}")
    # The key ID covers name, algorithm and key: one changed character anywhere fails here.
    if key_id(name, key[1:], key[0]) != bytes.fromhex(hex_id):
        raise InvalidNote(f"verifier key {text!r}: key ID does not match its name and key")
    if key[0] not in (ALG_ED25519, ALG_COSIGNATURE):
        raise InvalidNote(f"verifier key {text!r}: unsupported algorithm 0x{key[0]:02x}")
    if len(key) != 33:
        raise InvalidNote(f"verifier key {text!r}: key is {len(key) - 1} bytes, 32 expected")
    return NoteVerifier(name, bytes.fromhex(hex_id), key[1:], key[0])


def format_signature_line(sig: NoteSignature) -> str:
    return f"{_SIG_PREFIX}{sig.name} {_b64(sig.key_id + sig.signature)}\n"


def _check_text(text: str, what: str) -> None:
    bad = _FORBIDDEN.search(text)
    if bad:
        raise InvalidNote(f"{what}: control character U+{ord(bad[0]):04X} at offset {bad.start()}")


def sign_note(text: str, name: str, signer: Signer) -> str:
    """Sign ``text`` (which ends in a newline) as a note with one Ed25519 signature."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise InvalidNote("note text must end in a newline")
    _check_name(name)
    sig = NoteSignature(name, key_id(name, signer.public_key), signer.sign(text.encode()))
    return text + "\n" + format_signature_line(sig)


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    name, _, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
    raw = _unb64(b64)
    if not line.startswith(_SIG_PREFIX) or not _valid_name(name) or raw is None or len(raw) < 5:
        raise InvalidNote(f"malformed note: signature line {number} is not '— <name> <base64>'")
    return NoteSignature(name, raw[:4], raw[4:])


def split_note(note: bytes | str) -> tuple[str, list[NoteSignature]]:
    """The text and signature lines of a note, NOT verified: use ``open_note`` to trust it."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidNote(f"malformed note: not UTF-8 at byte {exc.start}") from None
    _check_text(note, "malformed note")
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidNote("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise InvalidNote("malformed note: no signature lines")
    if not block.endswith("\n"):
        raise InvalidNote("malformed note: the signature lines must end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidNote(f"malformed note: {len(lines)} signatures, at most {MAX_SIGNATURES}")
    return text, [_parse_signature_line(line, i + 1) for i, line in enumerate(lines)]


def open_note(note: bytes | str, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Verify a note: every signature by a known key must hold, and there must be at least one.

    Signatures by unknown keys (another name or key ID) are kept aside in ``unverified``;
    an identical signature line repeated counts once.
    """
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[NoteSignature] = set()
    signers: set[tuple[str, bytes]] = set()
    for sig in sigs:
        if sig in seen:
            continue
        seen.add(sig)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        if not verifier.verify(message, sig.signature):
            raise InvalidNote(f"invalid signature by {sig.name} (key {sig.key_id.hex()})")
        if (sig.name, sig.key_id) not in signers:
            signers.add((sig.name, sig.key_id))
            verified.append(sig)
    if not verified:
        names = ", ".join(sorted({s.name for s in sigs}))
        raise InvalidNote(f"no verifiable signatures: none by a trusted key (signed by {names})")
    return OpenedNote(text, verified, unverified)


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement of its size and root hash (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in (("origin", self.origin), *(("extension", e) for e in self.extensions)):
            if not line or "\n" in line:
                raise InvalidNote(f"checkpoint {what} line must be one non-empty line")
            _check_text(line, f"checkpoint {what} line")
        if not 0 <= self.size < 2**64:
            raise InvalidNote(f"checkpoint size {self.size} is out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise InvalidNote(
                f"checkpoint root hash is {len(self.root_hash)} bytes, {HASH_SIZE} expected"
            )

    def body(self) -> str:
        """The note text, the bytes the log signs and witnesses cosign."""
        lines = (self.origin, str(self.size), _b64(self.root_hash), *self.extensions)
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str, expected_origin: str | None = None) -> Checkpoint:
    if not text.endswith("\n"):
        raise InvalidNote("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InvalidNote(f"checkpoint has {len(lines)} line(s); origin, size and root expected")
    origin, size, root, *extensions = lines
    if expected_origin is not None and origin != expected_origin:
        raise InvalidNote(
            f"origin mismatch: checkpoint of {origin!r}, {expected_origin!r} expected"
        )
    if not _DECIMAL.fullmatch(size):
        raise InvalidNote(f"checkpoint size {size!r} is not a decimal without leading zeros")
    root_hash = _unb64(root)
    if root_hash is None:
        raise InvalidNote(f"checkpoint root hash {root!r} is not canonical base64")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True)
class OpenedCheckpoint:
    checkpoint: Checkpoint
    log_signature: NoteSignature
    cosignatures: list[NoteSignature]
    """Verified signatures by the given witnesses, in note order."""
    unverified: list[NoteSignature]


def open_checkpoint(
    note: bytes | str,
    origin: str,
    log: NoteVerifier,
    witnesses: Sequence[NoteVerifier] = (),
) -> OpenedCheckpoint:
    """Verify a checkpoint note: the log must have signed it and the origin must be ``origin``.

    Witness signatures are checked too; a witness alone never makes a checkpoint valid.
    """
    opened = open_note(note, [log, *witnesses])
    by_log = [(s.name, s.key_id) == (log.name, log.key_id) for s in opened.verified]
    if not any(by_log):
        raise InvalidNote(f"no log signature: {log.name} (key {log.key_id.hex()}) did not sign")
    return OpenedCheckpoint(
        checkpoint=parse_checkpoint(opened.text, expected_origin=origin),
        log_signature=opened.verified[by_log.index(True)],
        cosignatures=[s for s, mine in zip(opened.verified, by_log, strict=True) if not mine],
        unverified=opened.unverified,
    )


def cosign(
    checkpoint_body: str, witness_name: str, signer: Signer, timestamp: int
) -> NoteSignature:
    """A witness's cosignature/v1 over a checkpoint it has checked for consistency."""
    parse_checkpoint(checkpoint_body)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise InvalidNote(f"cosignature timestamp {timestamp} is out of range")
    _check_name(witness_name)
    message = _cosigned_message(checkpoint_body.encode(), timestamp)
    return NoteSignature(
        witness_name,
        key_id(witness_name, signer.public_key, ALG_COSIGNATURE),
        timestamp.to_bytes(8, "big") + signer.sign(message),
    )


def verify_cosignature(
    checkpoint_body: str, sig: NoteSignature, witness_name: str, public_key: bytes
) -> int:
    """Check one witness's cosignature; returns its timestamp (POSIX seconds)."""
    witness = NoteVerifier.from_key(witness_name, public_key, ALG_COSIGNATURE)
    if (sig.name, sig.key_id) != (witness.name, witness.key_id):
        raise InvalidNote(
            f"cosignature is by {sig.name} (key {sig.key_id.hex()}), "
            f"not {witness.name} (key {witness.key_id.hex()})"
        )
    if not witness.verify(checkpoint_body.encode(), sig.signature):
        raise InvalidNote(f"invalid signature: cosignature by {sig.name} does not verify")
    return int.from_bytes(sig.signature[:8], "big")
