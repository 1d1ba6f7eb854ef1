"""The one exception hierarchy of Parley.

Every layer raises these; the HTTP API turns each into an RFC 9457 problem in one
place (``parley.api._problems``), and the CLI prints ``title: detail``. Each class
carries the HTTP status and a stable ``code`` so clients can branch on it without
parsing prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AuthenticationFailed",
    "BadJson",
    "BadSignature",
    "BrokenChain",
    "BundleInvalid",
    "Conflict",
    "EquivocationDetected",
    "EventRejected",
    "FieldError",
    "Forbidden",
    "InvalidInput",
    "InvalidNote",
    "InvalidProof",
    "KeyCompromised",
    "MissingDependency",
    "NodeUnreachable",
    "NotFound",
    "NotMember",
    "ParleyError",
    "PayloadTooLarge",
    "PeerRefused",
    "PeerUnreachable",
    "PermissionDenied",
    "SeqOutOfOrder",
    "StoreUnavailable",
    "TooManyRequests",
    "UnknownParty",
]


@dataclass(frozen=True)
class FieldError:
    """One wrong field: a dotted path (``body.precedence``) and what is wrong with it."""

    field: str
    message: str


class ParleyError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidInput(ParleyError):
    status = 422
    code = "invalid-input"
    title = "Invalid input"

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", errors=(FieldError(field, message),))


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class BadJson(InvalidInput):
    """A request body that is not JSON at all: not UTF-8, not well formed, or NaN."""

    status = 400
    code = "bad-json"
    title = "Malformed JSON"


class InvalidProof(ParleyError):
    """A Merkle inclusion or consistency proof does not hold; the detail says which step failed."""

    status = 422
    code = "invalid-proof"
    title = "Invalid proof"


class InvalidNote(ParleyError):
    """A signed note, checkpoint or cosignature is malformed or does not verify."""

    status = 422
    code = "invalid-note"
    title = "Invalid note"


class AuthenticationFailed(ParleyError):
    status = 401
    code = "unauthenticated"
    title = "Authentication failed"


class Forbidden(ParleyError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PermissionDenied(Forbidden):
    """An operator's role lacks a permission: who, from where, and which, for the audit trail."""

    def __init__(self, detail: str, *, actor: str, address: str, permission: str) -> None:
        super().__init__(detail)
        self.actor = actor
        self.address = address
        self.permission = permission


class TooManyRequests(ParleyError):
    """Refused before any work because the caller failed too often; it may retry later."""

    status = 429
    code = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class NotFound(ParleyError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(ParleyError):
    status = 409
    code = "conflict"
    title = "Conflict"


class UnknownParty(InvalidInput):
    code = "unknown-party"
    title = "Unknown party"


class StoreUnavailable(ParleyError):
    status = 503
    code = "store-unavailable"
    title = "Store unavailable"


class EventRejected(ParleyError):
    """An event failed a protocol check; it is never stored."""

    status = 422
    code = "event-rejected"
    title = "Event rejected"


class BadSignature(EventRejected):
    code = "bad-signature"
    title = "Bad signature"


class KeyCompromised(BadSignature):
    """Signed by a key its party declared compromised, at or after the time declared."""

    code = "key-compromised"
    title = "Key compromised"


class BrokenChain(EventRejected):
    code = "broken-chain"
    title = "Broken chain"


class SeqOutOfOrder(EventRejected):
    code = "seq-out-of-order"
    title = "Sequence number out of order"


class MissingDependency(SeqOutOfOrder):
    """The event is valid but arrived before what it builds on; hold it, do not drop it."""

    code = "missing-dependency"
    title = "Missing dependency"


class NotMember(EventRejected):
    code = "not-member"
    title = "Author is not a member"


class EquivocationDetected(EventRejected):
    status = 409
    code = "equivocation"
    title = "Equivocation"


class PeerUnreachable(ParleyError):
    status = 502
    code = "peer-unreachable"
    title = "Peer unreachable"


class PeerRefused(ParleyError):
    """The peer answered, and said no: its problem detail is kept for the log and the link."""

    status = 502
    code = "peer-refused"
    title = "Peer refused the request"

    def __init__(self, detail: str, peer_status: int) -> None:
        super().__init__(detail)
        self.peer_status = peer_status


class NodeUnreachable(ParleyError):
    """An operator's own node, named by URL, did not answer, or answered as no Parley node does."""

    status = 502
    code = "node-unreachable"
    title = "Node unreachable"


class BundleInvalid(ParleyError):
    """An exported bundle failed an offline check; the detail names the first failure."""

    status = 422
    code = "invalid-bundle"
    title = "Bundle does not verify"
