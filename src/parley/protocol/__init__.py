"""The protocol: pure functions over events. No I/O, no clock, no database."""

from ._bodies import (
    DEFAULT_ACK_DEADLINES,
    MAX_TEXT_BYTES,
    MemberRole,
    Precedence,
    parse_precedence,
    validate_body,
    validate_language_tag,
    validate_operator_name,
    validate_text,
)
from ._canonical import canonical_bytes
from ._chain import ChainHead, Verdict, check_append
from ._event import (
    EVENT_VERSION,
    Event,
    event_from_dict,
    sign_event,
    validate_channel_id,
    validate_party_id,
)
from ._fedauth import (
    FED_HEADERS,
    RequestSignature,
    sign_request,
    signing_bytes,
    verify_request,
)
from ._keys import (
    Ed25519Signer,
    Signer,
    decode_public_key,
    encode_public_key,
    fingerprint,
    verify_signature,
)

__all__ = [
    "DEFAULT_ACK_DEADLINES",
    "EVENT_VERSION",
    "FED_HEADERS",
    "MAX_TEXT_BYTES",
    "ChainHead",
    "Ed25519Signer",
    "Event",
    "MemberRole",
    "Precedence",
    "RequestSignature",
    "Signer",
    "Verdict",
    "canonical_bytes",
    "check_append",
    "decode_public_key",
    "encode_public_key",
    "event_from_dict",
    "fingerprint",
    "parse_precedence",
    "sign_event",
    "sign_request",
    "signing_bytes",
    "validate_body",
    "validate_channel_id",
    "validate_language_tag",
    "validate_operator_name",
    "validate_party_id",
    "validate_text",
    "verify_request",
    "verify_signature",
]
