"""Response bodies of the transparency log: checkpoints and proofs, hashes in base64."""

from __future__ import annotations

import base64

from pydantic import BaseModel, Field

from parley.clock import format_ms
from parley.services import ConsistencyProof, InclusionProof, SignedCheckpoint

from ._values import Timestamp

__all__ = [
    "CheckpointOut",
    "ConsistencyProofOut",
    "CosignerOut",
    "InclusionProofOut",
    "b64",
    "cosigned_at",
]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def cosigned_at(timestamp: int) -> str:
    """The time of a C2SP cosignature, which counts whole seconds."""
    return format_ms(timestamp * 1000)


class CosignerOut(BaseModel):
    witness: str = Field(description="party id of the witness (its C2SP key name)")
    cosigned_at: Timestamp = Field(description="the time in its cosignature")


class CheckpointOut(BaseModel):
    origin: str = Field(description="the log's name: this node's party id")
    size: int = Field(description="number of entries (events) in the log")
    root: str = Field(description="base64 RFC 9162 root hash of the first size entries")
    note: str = Field(
        description="C2SP signed note: the tlog-checkpoint, this node's signature, then one "
        "tlog-cosignature line per witness"
    )
    cosigners: list[CosignerOut]
    created_at: Timestamp

    @classmethod
    def of(cls, checkpoint: SignedCheckpoint) -> CheckpointOut:
        return cls(
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=b64(checkpoint.root),
            note=checkpoint.note,
            cosigners=[
                CosignerOut(witness=c.witness, cosigned_at=cosigned_at(c.timestamp))
                for c in checkpoint.cosignatures
            ],
            created_at=format_ms(checkpoint.created_ms),
        )


class InclusionProofOut(BaseModel):
    event_id: str
    index: int = Field(description="the event's leaf index in the log")
    size: int = Field(description="size of the tree the proof is for")
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || the event's signed bytes)")
    root: str = Field(description="base64 root hash of the tree of that size")
    proof: list[str] = Field(description="base64 RFC 9162 inclusion proof, leaf first")

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofOut:
        return cls(
            event_id=proof.event_id,
            index=proof.index,
            size=proof.size,
            leaf_hash=b64(proof.leaf_hash),
            root=b64(proof.root),
            proof=[b64(p) for p in proof.proof],
        )


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root: str = Field(description="base64 root hash of the first tree")
    second_root: str = Field(description="base64 root hash of the second tree")
    proof: list[str] = Field(description="base64 RFC 9162 consistency proof")

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            first=proof.first,
            second=proof.second,
            first_root=b64(proof.first_root),
            second_root=b64(proof.second_root),
            proof=[b64(p) for p in proof.proof],
        )
