"""Node-to-node request signatures: who sent this request, to whom, and when."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from parley.errors import AuthenticationFailed, FieldError

from ._keys import Signer, verify_signature

__all__ = [
    "FED_HEADERS",
    "RequestSignature",
    "check_request_headers",
    "sign_request",
    "signing_bytes",
    "verify_request",
]

# Milliseconds since the epoch in ASCII digits: ``str.isdigit`` also takes '²', which ``int``
# refuses, and ``int`` of thousands of digits is an error of its own, so the length is bounded.
_TIMESTAMP_RE = re.compile("[0-9]{1,15}")

FED_HEADERS = (
    "x-parley-from",
    "x-parley-to",
    "x-parley-timestamp",
    "x-parley-nonce",
    "x-parley-signature",
)


@dataclass(frozen=True)
class RequestSignature:
    sender: str
    receiver: str
    timestamp_ms: int
    nonce: str
    signature: str

    def headers(self) -> dict[str, str]:
        return dict(
            zip(
                FED_HEADERS,
                (self.sender, self.receiver, str(self.timestamp_ms), self.nonce, self.signature),
                strict=True,
            )
        )

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> RequestSignature:
        missing = [h for h in FED_HEADERS if not headers.get(h)]
        if missing:
            raise AuthenticationFailed(f"unsigned federation request: no {missing[0]} header")
        stamp = headers["x-parley-timestamp"]
        if not _TIMESTAMP_RE.fullmatch(stamp):
            message = "must be milliseconds since the epoch"
            raise AuthenticationFailed(
                f"x-parley-timestamp {message}",
                errors=(FieldError("x-parley-timestamp", message),),
            )
        return cls(
            headers["x-parley-from"],
            headers["x-parley-to"],
            int(stamp),
            headers["x-parley-nonce"],
            headers["x-parley-signature"],
        )


def signing_bytes(
    method: str,
    target: str,
    body: bytes,
    sender: str,
    receiver: str,
    timestamp_ms: int,
    nonce: str,
) -> bytes:
    """What is signed: method, path with query, body digest, both parties, time and nonce."""
    digest = hashlib.sha256(body).hexdigest()
    lines = (
        "parley-federation-v1",
        method.upper(),
        target,
        digest,
        sender,
        receiver,
        str(timestamp_ms),
        nonce,
    )
    return "\n".join(lines).encode("utf-8")


def sign_request(
    signer: Signer,
    *,
    method: str,
    target: str,
    body: bytes,
    sender: str,
    receiver: str,
    timestamp_ms: int,
    nonce: str,
) -> RequestSignature:
    data = signing_bytes(method, target, body, sender, receiver, timestamp_ms, nonce)
    signature = base64.b64encode(signer.sign(data)).decode("ascii")
    return RequestSignature(sender, receiver, timestamp_ms, nonce, signature)


def check_request_headers(
    signature: RequestSignature,
    *,
    receiver: str,
    now_ms: int,
    window_ms: int,
    not_before_ms: int,
) -> None:
    """What is checked before the body is read: the receiver, the time, the shape of the
    nonce and of the signature. Not replay (the caller keeps the nonces it has seen in the
    window), nor the signature itself, which covers the body.

    ``not_before_ms`` is when the receiver started: a request signed before it cannot be
    replayed after a restart that forgot the nonces.
    """
    if signature.receiver != receiver:
        raise AuthenticationFailed(f"request was signed for {signature.receiver}, not {receiver}")
    skew = abs(now_ms - signature.timestamp_ms)
    if skew > window_ms or signature.timestamp_ms < not_before_ms:
        raise AuthenticationFailed(
            f"stale federation request: signed {skew} ms from now, window is {window_ms} ms"
        )
    if not 8 <= len(signature.nonce) <= 64:
        raise AuthenticationFailed("x-parley-nonce must have 8 to 64 characters")
    _signature_bytes(signature)


def verify_request(
    signature: RequestSignature,
    *,
    public_key: bytes,
    method: str,
    target: str,
    body: bytes,
) -> None:
    """The signature over the request, its body included, by the sender's pinned key; the
    headers passed ``check_request_headers`` first."""
    data = signing_bytes(
        method,
        target,
        body,
        signature.sender,
        signature.receiver,
        signature.timestamp_ms,
        signature.nonce,
    )
    if not verify_signature(public_key, data, _signature_bytes(signature)):
        raise AuthenticationFailed(
            f"federation request signature does not verify with the pinned key of "
            f"{signature.sender}"
        )


def _signature_bytes(signature: RequestSignature) -> bytes:
    try:
        return base64.b64decode(signature.signature, validate=True)
    except ValueError as exc:
        raise AuthenticationFailed("x-parley-signature is not base64") from exc
