"""Response bodies of the transparency log: checkpoints and proofs, hashes in base64."""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BeforeValidator, Field

from ._answers import Answer
from ._values import Timestamp

__all__ = [
    "Base64",
    "CheckpointOut",
    "ConsistencyProofOut",
    "CosignedAt",
    "CosignerOut",
    "InclusionProofOut",
]


def _base64(value: object) -> object:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _seconds_to_ms(value: object) -> object:
    return value * 1000 if isinstance(value, int) else value


Base64 = Annotated[str, BeforeValidator(_base64)]
# A C2SP cosignature's time counts whole seconds; made milliseconds first, then a Timestamp.
CosignedAt = Annotated[Timestamp, BeforeValidator(_seconds_to_ms)]


class CosignerOut(Answer):
    witness: str = Field(description="party id of the witness (its C2SP key name)")
    cosigned_at: CosignedAt = Field(
        validation_alias="timestamp", description="the time in its cosignature"
    )


class CheckpointOut(Answer):
    origin: str = Field(description="the log's name: this node's party id")
    size: int = Field(description="number of entries (events) in the log")
    root: Base64 = Field(description="base64 RFC 9162 root hash of the first size entries")
    note: str = Field(
        description="C2SP signed note: the tlog-checkpoint, this node's signature, then one "
        "tlog-cosignature line per witness"
    )
    cosigners: list[CosignerOut] = Field(validation_alias="cosignatures")
    created_at: Timestamp = Field(validation_alias="created_ms")


class InclusionProofOut(Answer):
    event_id: str
    index: int = Field(description="the event's leaf index in the log")
    size: int = Field(description="size of the tree the proof is for")
    leaf_hash: Base64 = Field(description="base64 SHA-256(0x00 || the event's signed bytes)")
    root: Base64 = Field(description="base64 root hash of the tree of that size")
    proof: list[Base64] = Field(description="base64 RFC 9162 inclusion proof, leaf first")


class ConsistencyProofOut(Answer):
    first: int
    second: int
    first_root: Base64 = Field(description="base64 root hash of the first tree")
    second_root: Base64 = Field(description="base64 root hash of the second tree")
    proof: list[Base64] = Field(description="base64 RFC 9162 consistency proof")
