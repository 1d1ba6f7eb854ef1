from __future__ import annotations

from typing import Any

import rfc8785

from parley.errors import InvalidInput

__all__ = ["canonical_bytes"]


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes: the only form that is ever signed or hashed."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"value cannot be canonicalized: {exc}") from exc
