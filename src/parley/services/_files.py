"""Files a node writes: readable by its own user only, whatever the umask."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

__all__ = ["PRIVATE_DIR", "write_private"]

# A node's files name its parties and operators and may hold a database password.
PRIVATE_DIR: Final = 0o700
PRIVATE_FILE: Final = 0o600


def write_private(path: Path, chunks: Iterable[bytes], *, replace: bool) -> bool:
    """Write ``path`` with mode 0600, never through a symlink at it; False if it exists and
    ``replace`` is not set, leaving it as it was.

    Replacing writes a new file beside it and renames it over the old one: a symlink there is
    replaced rather than followed, and a reader never sees half a file.
    """
    if replace:
        _replace(path, chunks)
        return True
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags, PRIVATE_FILE)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.writelines(chunks)
    return True


def _replace(path: Path, chunks: Iterable[bytes]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.writelines(chunks)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
