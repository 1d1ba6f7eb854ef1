"""Files a node writes: readable by its own user only, whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "tighten", "write_private"]

_log = logging.getLogger(__name__)

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


def tighten(folder: Path, names: Iterable[str]) -> None:
    """Take group and other permissions off ``folder`` (0700) and the files ``names`` in it
    (0600) that exist, one warning line for each changed: a copy or a restore may have made
    them readable by others."""
    for path, mode in ((folder, PRIVATE_DIR), *((folder / name, PRIVATE_FILE) for name in names)):
        try:
            current = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if current & 0o077:
            path.chmod(current & mode)
            _log.warning(
                "%s was open to other users (mode %04o); now %04o", path, current, current & mode
            )


def _replace(path: Path, chunks: Iterable[bytes]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.writelines(chunks)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
