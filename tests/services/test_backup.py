"""Backups of a data folder and their restore: the archive, its manifest, and tampering."""

from __future__ import annotations

import asyncio
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest

from parley.clock import ManualClock
from parley.errors import Conflict, InvalidInput
from parley.services import Node, create_backup, init_node, restore_backup, restored
from tests.conftest import FAST_HASH, START

US = "us-eucom"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "us"
    init_node(data, US, "United States European Command", settings=FAST_HASH)
    (data / "evidence").mkdir()
    (data / "evidence" / "ab12").write_bytes(b"a photograph")
    return data


def back_up(folder: Path, out: Path, *, with_key: bool = False) -> None:
    create_backup(folder, out, ManualClock(START), with_key=with_key)


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def rewrite(archive: Path, change: dict[str, bytes | None]) -> None:
    """Write ``archive`` again with some members replaced (None: left out)."""
    kept = {**members(archive), **change}
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in kept.items():
            if data is not None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_a_backup_holds_the_database_files_and_a_manifest_but_not_the_key(
    folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "us.tar.gz"
    back_up(folder, out)

    inside = members(out)
    manifest = json.loads(inside["manifest.json"])
    assert sorted(inside) == [
        "data/evidence/ab12",
        "data/parley.db",
        "data/parley.toml",
        "manifest.json",
    ]
    assert manifest["party"] == US
    assert manifest["format"] == "parley-backup"
    assert manifest["left_out"] == ["node.key"]
    assert manifest["schema_revision"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_restore_checks_every_file_and_marks_the_folder_restored(
    folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "us.tar.gz"
    back_up(folder, out, with_key=True)
    target = tmp_path / "restored"

    summary = restore_backup(out, target, ManualClock(START))

    assert not summary.missing_key
    assert (target / "evidence" / "ab12").read_bytes() == b"a photograph"
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "evidence").stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "parley.db").stat().st_mode) == 0o600
    assert restored(target) is not None
    with pytest.raises(Conflict, match="restored from a backup"):
        Node.open(target)
    node = Node.open(target, rejoining=True)
    try:
        assert node.party == US
    finally:
        node.close()


def test_a_node_with_no_peer_to_ask_does_not_rejoin_unless_forced(
    folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "us.tar.gz"
    back_up(folder, out, with_key=True)
    target = tmp_path / "restored"
    restore_backup(out, target, ManualClock(START))
    node = Node.open(target, rejoining=True)
    try:
        with pytest.raises(Conflict, match="no peer has a URL"):
            asyncio.run(node.rejoin())
        assert asyncio.run(node.rejoin(force=True)).forced
    finally:
        node.close()
    assert restored(target) is None
    Node.open(target).close()


@pytest.mark.parametrize(
    "change",
    [
        {"data/parley.toml": b'[node]\nparty = "ru-genstaff"\nname = "x"\n'},
        {"data/evidence/ab12": None},
        {"data/node.key": b"a key of someone else"},
        {"data/../../escape": b"x"},
    ],
    ids=["altered", "missing", "added", "outside"],
)
def test_a_tampered_archive_is_refused_and_leaves_nothing(
    folder: Path, tmp_path: Path, change: dict[str, bytes | None]
) -> None:
    out = tmp_path / "us.tar.gz"
    back_up(folder, out)
    rewrite(out, change)
    target = tmp_path / "restored"

    with pytest.raises(InvalidInput, match="altered or damaged"):
        restore_backup(out, target, ManualClock(START))
    assert not target.exists()


def test_a_restore_into_a_folder_that_is_not_empty_is_refused(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "us.tar.gz"
    back_up(folder, out)
    with pytest.raises(Conflict, match="not an empty folder"):
        restore_backup(out, folder, ManualClock(START))


def test_what_is_not_a_backup_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(InvalidInput, match="not a Parley backup"):
        restore_backup(junk, tmp_path / "restored", ManualClock(START))


def test_an_existing_archive_is_not_overwritten(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "us.tar.gz"
    out.write_bytes(b"keep me")
    with pytest.raises(Conflict, match="already exists"):
        back_up(folder, out)
    assert out.read_bytes() == b"keep me"


def test_a_node_on_postgresql_is_not_backed_up_by_parley(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    data.mkdir()
    (data / "parley.toml").write_text(
        '[node]\nparty = "us-eucom"\nname = "x"\n\n[settings]\n'
        'database_url = "postgresql+psycopg://parley@localhost/parley"\n'
    )
    with pytest.raises(Conflict, match="pg_dump"):
        back_up(data, tmp_path / "pg.tar.gz")
