"""Backups of a node's data folder, consistent while it runs, and their restore.

A backup is one tar archive (gzip): the database copied by SQLite's online backup API, the
other files of the folder (``parley.toml``, evidence files, TLS files...) and
``manifest.json``: the format, the version of Parley, the party, the time, the schema
revision, the node's own chain heads and the SHA-256 of each member. ``node.key`` (and the
retired keys beside it) go in only when asked: whoever holds the archive could sign as the
party. A PostgreSQL node is backed up with PostgreSQL's own tools (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

from parley import __version__
from parley.clock import Clock, format_ts
from parley.errors import Conflict, InvalidInput
from parley.store import copy_revision, copy_sqlite, own_heads, sqlite_path

from ._files import PRIVATE_DIR, PRIVATE_FILE
from ._keyfile import KEY_FILE
from ._node import NodeConfig
from ._restored import RESTORED_FILE, mark_restored

__all__ = ["BackupSummary", "RestoreSummary", "create_backup", "restore_backup"]

FORMAT: Final = "parley-backup"
VERSION: Final = 1
MANIFEST: Final = "manifest.json"
_DATA: Final = "data"  # the folder of the archive holding the data folder's files
_DATABASE: Final = "parley.db"
# The live database (its copy goes in instead), and what belongs to one run of the node.
_NOT_COPIED: Final = frozenset(
    {
        _DATABASE,
        f"{_DATABASE}-wal",
        f"{_DATABASE}-shm",
        f"{_DATABASE}-journal",
        "node.lock",
        "served.json",
        RESTORED_FILE,
    }
)
_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class BackupSummary:
    out: Path
    party: str
    created: str
    schema_revision: str
    own_heads: dict[str, int]
    files: list[str]
    left_out: list[str]  # key files, not in the archive without --with-key
    size: int


@dataclass(frozen=True)
class RestoreSummary:
    data_dir: Path
    party: str
    created: str
    files: list[str]
    missing_key: bool  # node.key was not in the archive: put it back before starting


def create_backup(data_dir: Path, out: Path, clock: Clock, *, with_key: bool) -> BackupSummary:
    """Write a backup of the node in ``data_dir`` to ``out`` (mode 0600), which must not exist;
    the node may be running."""
    config = NodeConfig.load(data_dir)
    database = sqlite_path(config.database_url)
    files, left_out = _folder_files(data_dir, database, out, with_key=with_key)
    with tempfile.TemporaryDirectory(prefix=".parley-backup-", dir=out.parent) as scratch:
        copy = Path(scratch) / _DATABASE
        # Created 0600 before SQLite writes it: it holds what the node's database holds.
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        copy_sqlite(database, copy)
        created = format_ts(clock.now())
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "parley": __version__,
            "party": config.party,
            "name": config.name,
            "created": created,
            "schema_revision": copy_revision(copy),
            "own_heads": own_heads(copy, config.party),
            "with_key": with_key,
            "left_out": left_out,
            "files": {},
        }
        with _new_archive(out) as archive:
            for name, path in [(_DATABASE, copy), *files]:
                manifest["files"][name] = _add(archive, name, path)
            text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(text), PRIVATE_FILE
            archive.addfile(info, io.BytesIO(text))
    return BackupSummary(
        out,
        config.party,
        created,
        manifest["schema_revision"],
        manifest["own_heads"],
        sorted(manifest["files"]),
        left_out,
        out.stat().st_size,
    )


def _folder_files(
    data_dir: Path, database: Path, out: Path, *, with_key: bool
) -> tuple[list[tuple[str, Path]], list[str]]:
    """The files of the folder that go in (name in the archive, path), and the key files
    left out. Symbolic links are not followed: a backup holds the folder's own files."""
    files: list[tuple[str, Path]] = []
    left_out: list[str] = []
    skipped = {database.resolve(), out.resolve()}
    for root, dirs, names in os.walk(data_dir):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(data_dir).as_posix()
            if relative in _NOT_COPIED or path.is_symlink() or path.resolve() in skipped:
                continue
            if name.startswith(KEY_FILE) and not with_key:
                left_out.append(relative)
                continue
            if path.is_file():
                files.append((relative, path))
    return files, left_out


@contextlib.contextmanager
def _new_archive(out: Path) -> Iterator[tarfile.TarFile]:
    """A new gzip tar at ``out`` (mode 0600, never over an existing file); removed if the
    backup fails half-way."""
    try:
        descriptor = os.open(
            out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE
        )
    except FileExistsError as exc:
        raise Conflict(f"{out} already exists; refusing to overwrite it") from exc
    try:
        with (
            os.fdopen(descriptor, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w:gz") as tar,
        ):
            yield tar
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _add(archive: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    """Add one file, hashing the very bytes that go in (a file may change meanwhile)."""
    with path.open("rb") as handle:
        info = tarfile.TarInfo(f"{_DATA}/{name}")
        info.size, info.mode = os.fstat(handle.fileno()).st_size, PRIVATE_FILE
        reader = _HashingReader(handle)
        archive.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


class _HashingReader:
    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self.digest.update(chunk)
        return chunk


def restore_backup(archive: Path, data_dir: Path, clock: Clock) -> RestoreSummary:
    """Restore a backup into ``data_dir``, which must be empty or absent: every member is
    checked against the manifest's hash before the folder is kept; folders 0700, files 0600.
    The folder is marked restored: the node rejoins its peers before it signs again."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise Conflict(f"{data_dir} is not an empty folder; restore into a new one")
    with _opened(archive) as tar:
        manifest = _manifest(tar, archive)
        members = _members(tar, manifest, archive)
        created = not data_dir.exists()
        data_dir.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
        data_dir.chmod(PRIVATE_DIR)
        try:
            for member, name in members:
                _extract(tar, member, data_dir, name, manifest["files"][name], archive)
            mark_restored(
                data_dir,
                {
                    "archive": archive.name,
                    "backup_created": manifest["created"],
                    "restored": format_ts(clock.now()),
                    "own_heads": manifest.get("own_heads", {}),
                },
            )
        except BaseException:
            _empty(data_dir, remove=created)
            raise
    return RestoreSummary(
        data_dir,
        str(manifest.get("party", "")),
        str(manifest.get("created", "")),
        sorted(manifest["files"]),
        not (data_dir / KEY_FILE).exists(),
    )


def _opened(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise _not_a_backup(archive, str(exc)) from exc


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        handle = tar.extractfile(MANIFEST)
        manifest = json.loads(handle.read()) if handle is not None else None
    except (KeyError, ValueError, tarfile.TarError, OSError) as exc:
        raise _not_a_backup(archive, f"no readable {MANIFEST}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _not_a_backup(archive, f"its {MANIFEST} is not of a Parley backup")
    if manifest.get("version") != VERSION:
        raise _not_a_backup(archive, f"backup format version {manifest.get('version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or _DATABASE not in files:
        raise _not_a_backup(archive, f"its {MANIFEST} lists no database")
    return manifest


def _members(
    tar: tarfile.TarFile, manifest: dict[str, Any], archive: Path
) -> list[tuple[tarfile.TarInfo, str]]:
    """The archive's files, each a regular file listed in the manifest under a plain relative
    name, and every listed file present once."""
    found: list[tuple[tarfile.TarInfo, str]] = []
    for member in tar.getmembers():
        if member.name == MANIFEST:
            continue
        name = _member_name(member)
        if name is None or name not in manifest["files"]:
            raise _tampered(archive, f"{member.name} is not a file its manifest lists")
        found.append((member, name))
    names = [name for _member, name in found]
    if sorted(names) != sorted(manifest["files"]) or len(set(names)) != len(names):
        raise _tampered(archive, "its files are not the ones its manifest lists")
    return found


def _member_name(member: tarfile.TarInfo) -> str | None:
    path = PurePosixPath(member.name)
    if not member.isreg() or path.is_absolute() or len(path.parts) < 2 or path.parts[0] != _DATA:
        return None
    if any(part in ("", ".", "..") for part in path.parts):
        return None
    return PurePosixPath(*path.parts[1:]).as_posix()


def _extract(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    data_dir: Path,
    name: str,
    listed: Any,
    archive: Path,
) -> None:
    target = data_dir.joinpath(*PurePosixPath(name).parts)
    for folder in reversed(target.relative_to(data_dir).parents[:-1]):
        (data_dir / folder).mkdir(PRIVATE_DIR, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None  # a regular file
    digest = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(target, flags, PRIVATE_FILE), "wb") as handle:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if not isinstance(listed, dict) or digest.hexdigest() != listed.get("sha256"):
        raise _tampered(archive, f"{name} does not have the SHA-256 its manifest gives")


def _empty(data_dir: Path, *, remove: bool) -> None:
    """Undo a restore that failed: nothing of a refused archive stays."""
    if remove:
        shutil.rmtree(data_dir, ignore_errors=True)
        return
    for child in data_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _not_a_backup(archive: Path, why: str) -> InvalidInput:
    return InvalidInput.for_field("--from", f"{archive} is not a Parley backup: {why}")


def _tampered(archive: Path, why: str) -> InvalidInput:
    return InvalidInput.for_field(
        "--from", f"{archive} was altered or damaged, restore refused: {why}"
    )
