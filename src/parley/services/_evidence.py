"""Evidence of allegations: files stored beside the record, named by their SHA-256.

An allegation carries only each file's name, hash, size and media type; the bytes stay in
the data folder of the node they were uploaded to (``evidence/<sha256>``, mode 0600). A
peer's node that lacks a file fetches it from the allegation's author through federation
and keeps it only if its hash is the one the signed allegation names.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PeerRefused,
    PeerUnreachable,
)
from parley.protocol import plain_text_error

from ._auth import Permission, Principal, require
from ._context import NodeContext
from ._files import PRIVATE_DIR, write_private
from ._transport import PeerTransport

__all__ = ["EVIDENCE_DIR", "EvidenceFile", "EvidenceService", "evidence_path"]

EVIDENCE_DIR = "evidence"
MAX_NAME = 200
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


@dataclass(frozen=True)
class EvidenceFile:
    """What an allegation's ``evidence`` lists of a stored file."""

    name: str
    sha256: str
    size: int
    media_type: str

    def item(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
        }


def evidence_path(folder: Path, sha256: str) -> Path:
    """The file of a digest; anything but 64 lower-case hex digits names no file."""
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise InvalidInput.for_field("sha256", "must be 64 lower-case hex digits")
    return folder / sha256


class EvidenceService:
    """Uploads, reads and the federation's fetches of evidence files."""

    def __init__(self, ctx: NodeContext, data_dir: Path, transport: PeerTransport) -> None:
        self._ctx = ctx
        self._folder = data_dir / EVIDENCE_DIR
        self._transport = transport

    @property
    def limit(self) -> int:
        return self._ctx.settings.max_evidence_bytes

    async def put(
        self, principal: Principal, content: bytes, name: str, media_type: str
    ) -> EvidenceFile:
        """Store an uploaded file; the answer is the item an allegation lists."""
        require(principal, Permission.POST)
        _check_name(name)
        media_type = media_type.split(";")[0].strip().lower()
        if not _MEDIA_TYPE.match(media_type):
            raise InvalidInput.for_field("content-type", "must be a media type such as image/jpeg")
        self._check_size(len(content))
        sha256 = hashlib.sha256(content).hexdigest()
        await asyncio.to_thread(self._write, sha256, content)
        return EvidenceFile(name, sha256, len(content), media_type)

    async def get(self, principal: Principal, sha256: str, source: str | None) -> bytes:
        """A stored file; one this node lacks is fetched from ``source`` (the party whose
        allegation names it), verified against its hash and kept."""
        require(principal, Permission.READ)
        found = await asyncio.to_thread(self._read, sha256)
        if found is not None:
            return found
        if source is None or source == self._ctx.party:
            raise NotFound(f"no evidence file {sha256} on this node")
        if self._ctx.store.get_party(source) is None:
            raise NotFound(f"no evidence file {sha256} on this node, and no peer {source}")
        return await self.fetch(source, sha256)

    async def fetch(self, peer: str, sha256: str) -> bytes:
        """The file from ``peer``'s node; one it cannot give (it has none, it is unreachable)
        is not found here either, the reason said."""
        path = evidence_path(self._folder, sha256)
        try:
            answer = await self._transport.call(peer, "GET", f"/federation/v1/evidence/{sha256}")
        except PeerRefused as exc:
            if exc.peer_status == 404:
                raise NotFound(f"{peer} has no evidence file {sha256}") from exc
            raise NotFound(f"no evidence file {sha256} here; {exc.detail}") from exc
        except PeerUnreachable as exc:
            raise NotFound(f"no evidence file {sha256} here; {exc.detail}") from exc
        content = _decoded(answer, peer)
        if len(content) > self.limit:
            raise Conflict(f"{peer} sent a file over max_evidence_bytes ({self.limit}); not kept")
        if hashlib.sha256(content).hexdigest() != sha256:
            raise Conflict(f"{peer} sent a file whose SHA-256 is not {sha256}; it is not kept")
        await asyncio.to_thread(self._write, path.name, content)
        return content

    def serve(self, peer: str, sha256: str) -> dict[str, str]:
        """A file for a peer's node, in base64: only one that an allegation names on a
        channel of which the peer is a member (else, as for a file not stored, NotFound)."""
        evidence_path(self._folder, sha256)
        shared = any(
            record is not None and peer in record.members
            for record in map(
                self._ctx.store.get_channel, self._ctx.store.evidence_channels(sha256)
            )
        )
        found = self._read(sha256) if shared else None
        if found is None:
            raise NotFound(f"no evidence file {sha256} on {self._ctx.party} for {peer}")
        return {"sha256": sha256, "content": base64.b64encode(found).decode("ascii")}

    def _check_size(self, size: int) -> None:
        if size == 0:
            raise InvalidInput.for_field("file", "is empty")
        if size > self.limit:
            raise PayloadTooLarge(
                f"an evidence file is at most {self.limit} bytes (max_evidence_bytes)"
            )

    def _read(self, sha256: str) -> bytes | None:
        try:
            return evidence_path(self._folder, sha256).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, sha256: str, content: bytes) -> None:
        """Written once, synced before the upload is answered: a file is named by its
        content, so one already there is this one."""
        self._folder.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
        path = evidence_path(self._folder, sha256)
        if write_private(path, [content], replace=False):
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def _check_name(name: str) -> None:
    error = plain_text_error(name) if name else "must not be empty"
    if error is None and len(name) > MAX_NAME:
        error = f"must be at most {MAX_NAME} characters"
    if error is not None:
        raise InvalidInput.for_field("name", error)


def _decoded(answer: Any, peer: str) -> bytes:
    content = answer.get("content") if isinstance(answer, dict) else None
    if not isinstance(content, str):
        raise InvalidInput.for_field("content", f"{peer} sent no evidence file")
    try:
        return base64.b64decode(content, validate=True)
    except binascii.Error as exc:
        raise InvalidInput.for_field("content", f"{peer} sent a file that is not base64") from exc
