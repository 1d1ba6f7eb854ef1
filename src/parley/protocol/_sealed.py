"""Sealing a document to a few parties: what an exchange list is in the replicated chain.

The document is encrypted once with a fresh content key (ChaCha20-Poly1305); the content
key is wrapped to each participant's X25519 key (an ephemeral key per recipient, HKDF-SHA256,
ChaCha20-Poly1305). Every node stores and replicates the sealed form; only a participant
that still holds its private key can open it, so destroying that key (crypto-shredding)
leaves the event verifiable and the document unreadable. The commitment (sha256 of the
canonical plaintext, which carries a random salt so that a short list cannot be guessed
from its hash) lets whoever opens it check that it is the document that was signed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.errors import InvalidInput

from ._canonical import canonical_bytes

__all__ = [
    "Sealed",
    "commitment",
    "new_exchange_key",
    "open_sealed",
    "public_of",
    "salted",
    "seal",
]

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
_WRAP_INFO = b"parley exchange key wrap v1"
_RAW = serialization.Encoding.Raw


@dataclass(frozen=True)
class Sealed:
    """The sealed form of a document as an event body carries it (base64 text)."""

    ciphertext: str
    nonce: str
    wrapped: dict[str, str]


def new_exchange_key() -> bytes:
    """A fresh X25519 private key (raw 32 bytes): one per participant and exchange."""
    return X25519PrivateKey.generate().private_bytes(
        _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def public_of(private_key: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private_key)
        .public_key()
        .public_bytes(_RAW, serialization.PublicFormat.Raw)
    )


def salted(document: Mapping[str, Any]) -> bytes:
    """The canonical plaintext of ``document`` with a random salt inside it."""
    return canonical_bytes({**document, "salt": _b64(os.urandom(SALT_BYTES))})


def commitment(plaintext: bytes) -> str:
    return hashlib.sha256(plaintext).hexdigest()


def seal(plaintext: bytes, recipients: Mapping[str, bytes], context: bytes) -> Sealed:
    """Encrypt ``plaintext`` to each recipient's public key. ``context`` (the exchange and
    the author) is bound into every ciphertext, so a sealed list cannot be replayed as
    another exchange's."""
    if not recipients:
        raise InvalidInput.for_field("recipients", "a document is sealed to at least one party")
    content_key = ChaCha20Poly1305.generate_key()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ChaCha20Poly1305(content_key).encrypt(nonce, plaintext, context)
    wrapped = {
        party: _b64(_wrap(content_key, public, context + party.encode()))
        for party, public in sorted(recipients.items())
    }
    return Sealed(_b64(ciphertext), _b64(nonce), wrapped)


def open_sealed(sealed: Sealed, party: str, private_key: bytes, context: bytes) -> bytes:
    """The plaintext, opened with ``party``'s private key; InvalidInput when it is not
    wrapped to that party or was altered."""
    wrapped = sealed.wrapped.get(party)
    if wrapped is None:
        raise InvalidInput.for_field("wrapped", f"the document is not sealed to {party}")
    try:
        content_key = _unwrap(_unb64(wrapped), private_key, context + party.encode())
        return ChaCha20Poly1305(content_key).decrypt(
            _unb64(sealed.nonce), _unb64(sealed.ciphertext), context
        )
    except (InvalidTag, ValueError) as exc:
        raise InvalidInput.for_field(
            "ciphertext", "cannot be opened with this key: altered, or sealed to another key"
        ) from exc


def _kek(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient, info=_WRAP_INFO
    ).derive(shared)


def _wrap(content_key: bytes, recipient: bytes, context: bytes) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    except ValueError as exc:
        raise InvalidInput.for_field("key", "is not an X25519 public key") from exc
    nonce = os.urandom(NONCE_BYTES)
    kek = _kek(shared, ephemeral_public, recipient)
    return ephemeral_public + nonce + ChaCha20Poly1305(kek).encrypt(nonce, content_key, context)


def _unwrap(wrapped: bytes, private_key: bytes, context: bytes) -> bytes:
    ephemeral_public = wrapped[:KEY_BYTES]
    nonce = wrapped[KEY_BYTES : KEY_BYTES + NONCE_BYTES]
    private = X25519PrivateKey.from_private_bytes(private_key)
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    recipient = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    kek = _kek(shared, ephemeral_public, recipient)
    return ChaCha20Poly1305(kek).decrypt(nonce, wrapped[KEY_BYTES + NONCE_BYTES :], context)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
