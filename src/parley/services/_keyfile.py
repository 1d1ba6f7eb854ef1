"""``node.key`` at rest: read through one function, written in clear or under a passphrase.

The file is a PKCS#8 PEM, encrypted with the best scheme ``cryptography`` offers when it has a
passphrase. The passphrase never sits in ``parley.toml``: it comes from the environment or a
file of its own that only its owner may read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from parley.errors import Conflict, InvalidInput
from parley.protocol import Ed25519Signer, Signer, pem_is_encrypted
from parley.settings import Settings

from ._files import write_private

__all__ = [
    "KEY_FILE",
    "MIN_PASSPHRASE",
    "PASSPHRASE_ENV",
    "check_passphrase",
    "key_is_encrypted",
    "key_passphrase",
    "load_signer",
    "write_key",
]

KEY_FILE: Final = "node.key"
PASSPHRASE_ENV: Final = "PARLEY_KEY_PASSPHRASE"  # noqa: S105 - a variable name
MIN_PASSPHRASE: Final = 12  # as an operator's password


def load_signer(data_dir: Path, settings: Settings, passphrase: str | None = None) -> Signer:
    """The node's signing key: the one way a node reads ``node.key``.

    An encrypted file opens with ``passphrase`` if given, else ``PARLEY_KEY_PASSPHRASE``, else
    the first line of the file the setting ``key_passphrase_file`` names.
    """
    path = data_dir / KEY_FILE
    pem = path.read_bytes()
    if not pem_is_encrypted(pem):
        return Ed25519Signer.from_pem(pem)
    source, secret = _passphrase(data_dir, settings, passphrase, path)
    try:
        return Ed25519Signer.from_pem(pem, secret.encode("utf-8"))
    except InvalidInput as exc:
        detail = f"does not open {path}: a wrong passphrase, or a damaged file"
        raise InvalidInput.for_field(source, detail) from exc


def key_is_encrypted(data_dir: Path) -> bool:
    return pem_is_encrypted((data_dir / KEY_FILE).read_bytes())


def key_passphrase(data_dir: Path, settings: Settings) -> str | None:
    """The passphrase ``node.key`` is encrypted under, as ``load_signer`` finds it; None if the
    file is in clear."""
    path = data_dir / KEY_FILE
    if not pem_is_encrypted(path.read_bytes()):
        return None
    return _passphrase(data_dir, settings, None, path)[1]


def write_key(path: Path, signer: Signer, passphrase: str | None, *, replace: bool) -> bool:
    """Write ``signer``'s key to ``path`` (mode 0600), encrypted under ``passphrase`` or in
    clear; replacing renames a new file over the old one. False if it exists and not
    ``replace``."""
    if not isinstance(signer, Ed25519Signer):
        raise Conflict("this node's key is not held in a key file")
    secret = None if passphrase is None else check_passphrase(passphrase).encode("utf-8")
    return write_private(path, [signer.to_pem(secret)], replace=replace)


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput.for_field(
            "passphrase", f"must have at least {MIN_PASSPHRASE} characters"
        )
    return passphrase


def _passphrase(
    data_dir: Path, settings: Settings, given: str | None, path: Path
) -> tuple[str, str]:
    """The passphrase of an encrypted key file, and what gave it (to name in an error)."""
    if given is not None:
        return "passphrase", given
    if from_env := os.environ.get(PASSPHRASE_ENV):
        return PASSPHRASE_ENV, from_env
    if settings.key_passphrase_file:
        return "settings.key_passphrase_file", _owner_only(data_dir / settings.key_passphrase_file)
    raise InvalidInput.for_field(
        KEY_FILE,
        f"{path} is encrypted: set {PASSPHRASE_ENV} or the setting key_passphrase_file",
    )


def _owner_only(path: Path) -> str:
    """The first line of a passphrase file, refused if other users may read it: the passphrase
    would then be no secret."""
    field = "settings.key_passphrase_file"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InvalidInput.for_field(
                field, f"{path} is open to other users (mode {mode:04o}): chmod 600 it"
            )
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InvalidInput.for_field(field, f"{path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput.for_field(field, f"{path} is not text") from exc
    return lines[0] if lines else ""
