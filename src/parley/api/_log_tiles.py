"""The log's tiles and checkpoint as C2SP tlog-tiles serves them: bytes and a text note.

A full tile never changes, so it may be cached for a year; a partial tile is a prefix of
what the tile becomes, but a client should ask again for a wider one, and the checkpoint
moves on as the log grows.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import Response

from parley.services import Tile

__all__ = ["CHECKPOINT_ANSWER", "TILE_ANSWER", "note_answer", "tile_answer"]

_IMMUTABLE: Final = "private, max-age=31536000, immutable"
_FRESH: Final = "private, no-cache"

TILE_ANSWER: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "the tile's hashes, 32 bytes each (C2SP tlog-tiles)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
CHECKPOINT_ANSWER: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "the latest checkpoint, a C2SP signed note with its cosignatures",
        # A file of UTF-8 text: its signatures cover its bytes exactly as served.
        "content": {"text/plain": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def tile_answer(tile: Tile) -> Response:
    return Response(
        tile.hashes,
        media_type="application/octet-stream",
        headers={"cache-control": _IMMUTABLE if tile.full else _FRESH},
    )


def note_answer(note: str) -> Response:
    return Response(note, media_type="text/plain; charset=utf-8", headers={"cache-control": _FRESH})
