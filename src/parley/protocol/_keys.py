from __future__ import annotations

import base64
import hashlib
from typing import Protocol

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)

from parley.errors import InvalidInput

__all__ = [
    "Ed25519Signer",
    "Signer",
    "decode_public_key",
    "encode_public_key",
    "fingerprint",
    "pem_is_encrypted",
    "verify_signature",
]

_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class Signer(Protocol):
    """Who signs a node's events; a hardware token could stand in for the key file."""

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    def sign(self, data: bytes) -> bytes: ...


class Ed25519Signer:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        """The key from its raw 32-byte RFC 8032 seed, as signed-note private keys carry it."""
        if len(seed) != 32:
            raise InvalidInput(f"an Ed25519 seed has 32 bytes, not {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> Ed25519Signer:
        """The key of a PKCS#8 PEM, encrypted (give its ``passphrase``) or not.

        A wrong passphrase is InvalidInput; so is a file that holds no such key.
        """
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except ValueError as exc:  # a wrong passphrase reads as damaged data
            raise InvalidInput("the key file cannot be read with this passphrase") from exc
        except TypeError as exc:  # a passphrase given for a key in clear, or none for one not
            raise InvalidInput(str(exc)) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("node key file does not hold an Ed25519 private key")
        return cls(key)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with ``passphrase`` (the best scheme the library offers)."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def pem_is_encrypted(pem: bytes) -> bool:
    """Whether a PKCS#8 PEM key needs a passphrase to be read."""
    return pem.lstrip().startswith(_ENCRYPTED_PEM)


def encode_public_key(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InvalidInput.for_field("key", "public key is not valid base64") from exc
    if len(raw) != 32:
        raise InvalidInput.for_field("key", f"an Ed25519 public key has 32 bytes, not {len(raw)}")
    return raw


def fingerprint(raw: bytes) -> str:
    """A short form to read aloud over a phone when pinning a peer's key (like a safety number)."""
    digest = hashlib.sha256(raw).digest()[:10]
    groups = [f"{int.from_bytes(digest[i : i + 2], 'big'):05d}" for i in range(0, 10, 2)]
    return " ".join(groups)


def verify_signature(public_key: bytes, data: bytes, signature: bytes) -> bool:
    # libsodium rather than OpenSSL: the same RFC 8032 check (strict about non-canonical
    # encodings and small-order keys), markedly faster for the many checks of a catch-up.
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + data, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True
