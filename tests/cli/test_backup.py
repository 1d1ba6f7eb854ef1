"""``parley backup``, ``parley restore`` and ``parley node rejoin``: their output, their
refusals in one line with exit status 2."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.cli.test_cli import init
from tests.cli.test_errors import run


def backed_up(tmp_path: Path, *extra: str) -> tuple[Path, dict[str, object]]:
    data, out = tmp_path / "us", tmp_path / "us.tar.gz"
    init(data)
    code, stdout, err = run("backup", "--data", str(data), "--out", str(out), "--json", *extra)
    assert code == 0, err
    return out, json.loads(stdout)


def test_backup_prints_its_summary_as_json_and_says_the_key_is_left_out(tmp_path: Path) -> None:
    out, summary = backed_up(tmp_path)

    assert summary["party"] == "us-eucom"
    assert summary["left_out"] == ["node.key"]
    assert summary["files"] == ["parley.db", "parley.toml"]
    assert summary["size"] == out.stat().st_size
    code, stdout, _ = run(
        "backup", "--data", str(tmp_path / "us"), "--out", str(tmp_path / "again.tar.gz")
    )
    assert code == 0
    assert "Not in the archive: node.key" in stdout


def test_restore_then_rejoin_with_no_peer_is_refused_until_forced(tmp_path: Path) -> None:
    out, _ = backed_up(tmp_path, "--with-key")
    data = tmp_path / "restored"

    code, stdout, err = run("restore", "--from", str(out), "--data", str(data))
    assert code == 0, err
    assert "rejoins its peers before it signs" in stdout
    code, _, err = run("node", "show", "--data", str(data))
    assert code == 2
    assert len(err) == 1
    assert "restored from a backup" in err[0]
    code, _, err = run("node", "rejoin", "--data", str(data))
    assert code == 2
    assert len(err) == 1
    assert "no peer has a URL" in err[0]
    code, stdout, err = run("node", "rejoin", "--data", str(data), "--force", "--json")
    assert code == 0, err
    assert json.loads(stdout)["forced"] is True
    code, _, err = run("node", "show", "--data", str(data))
    assert code == 0, err


def test_restore_refuses_a_folder_in_use_and_an_altered_archive_in_one_line(
    tmp_path: Path,
) -> None:
    out, _ = backed_up(tmp_path)
    code, _, err = run("restore", "--from", str(out), "--data", str(tmp_path / "us"))
    assert code == 2
    assert len(err) == 1
    assert "not an empty folder" in err[0]

    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(out) as source, tarfile.open(altered, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "data/parley.toml":
                content = content.replace(b"US European Command", b"Someone Else")
                member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    code, _, err = run("restore", "--from", str(altered), "--data", str(tmp_path / "new"))
    assert code == 2
    assert len(err) == 1
    assert "altered or damaged" in err[0]
    assert not (tmp_path / "new").exists()


def test_backup_of_a_node_on_postgresql_points_to_its_own_tools(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    data.mkdir()
    (data / "parley.toml").write_text(
        '[node]\nparty = "us-eucom"\nname = "x"\n\n[settings]\n'
        'database_url = "postgresql+psycopg://parley@localhost/parley"\n'
    )
    code, _, err = run("backup", "--data", str(data), "--out", str(tmp_path / "pg.tar.gz"))
    assert code == 2
    assert len(err) == 1
    assert "pg_dump" in err[0]
    assert "docs/operations.md" in err[0]
