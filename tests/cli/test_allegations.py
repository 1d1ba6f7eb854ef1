"""``parley allegation list|show`` and ``parley report`` against a node served on loopback, the
allegation made by the peer's node under an agreement both signed."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import httpx

from parley.services import Node, Role
from tests.cli.test_channels import RU, US, Desk, desk  # noqa: F401
from tests.conftest import PASSWORD, START, as_role
from tests.services.test_agreements import at, proposal


def alleged(desk: Desk) -> tuple[str, str]:  # noqa: F811
    """ru-genstaff proposes a moratorium, us-eucom signs it, ru-genstaff alleges a breach."""
    channel = desk.create()
    desk.from_peer(lambda peer: peer.channels.accept(as_role(peer, Role.ADMIN), channel))

    async def propose(peer: Node) -> str:
        duty = as_role(peer, Role.OPERATOR, "duty1")
        view = await peer.agreements.propose(duty, channel, **proposal(mediator=None))
        return view.state.id

    agreement = desk.from_peer(propose)
    with httpx.Client(base_url=desk.url) as http:
        token = http.post(
            "/api/v1/auth/token", json={"username": "duty1", "password": PASSWORD}
        ).json()["token"]
        signed = http.post(
            f"/api/v1/agreements/{agreement}/signatures",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert signed.status_code == 201, signed.text

    async def allege(peer: Node) -> str:
        data = {
            "agreement": agreement,
            "accused": US,
            "occurred_at": at(0),
            "description": "Artillery fire on the Zaporizhzhia substation.",
        }
        duty = as_role(peer, Role.OPERATOR, "duty1")
        sent = await peer.notifications.send(duty, channel, "violation_allegation/2", data)
        return sent.event.id  # type: ignore[union-attr]

    return agreement, desk.from_peer(allege)


def test_an_agreements_allegations_are_listed_shown_and_reported(
    desk: Desk,  # noqa: F811
    tmp_path: Path,
) -> None:
    agreement, allegation = alleged(desk)

    listed = desk.json("allegation", "list", agreement, username="duty1")
    assert [(a["id"], a["state"], a["accused"], a["author"]) for a in listed] == [
        (allegation, "alleged", US, RU)
    ]
    code, out, err = desk.run("allegation", "show", allegation, username="duty1")
    assert code == 0, err
    assert f"By {RU} (duty1) against {US}" in out
    assert "Artillery fire on the Zaporizhzhia substation." in out

    for suffix, start in ((".pdf", b"%PDF-"), (".png", b"\x89PNG"), (".html", b"<!doctype")):
        target = tmp_path / f"report{suffix}"
        code, out, err = desk.run(
            "report",
            agreement,
            "--out",
            str(target),
            "--lang",
            "uk",
            username="duty1",
        )
        assert (code, err) == (0, ""), err
        assert target.read_bytes().startswith(start)
    target = tmp_path / "report.csv"
    desk.run("report", agreement, "--out", str(target), username="duty1")
    rows = list(csv.reader(io.StringIO(target.read_text("utf-8"))))
    assert rows == [
        ["day", "party", "state", "count", "escalated"],
        [START.date().isoformat(), US, "alleged", "1", "0"],
    ]
    counts = desk.json("report", agreement, username="duty1")
    assert (counts["open_total"], counts["open"][0]["id"]) == (1, allegation)


def test_a_report_needs_a_file_it_can_write(desk: Desk, tmp_path: Path) -> None:  # noqa: F811
    code, _, err = desk.run("report", "ab" * 32, "--out", str(tmp_path / "r.txt"), username="duty1")
    assert code == 2
    assert "out" in err
    code, _, err = desk.run("report", "ab" * 32, username="duty1")
    assert code == 2
    code, _, err = desk.run("allegation", "list", "ab" * 32, username="duty1")
    assert (code, len(err.strip().splitlines())) == (2, 1)
    assert "no agreement" in err


def test_an_evidence_file_is_stored_on_the_node_and_its_item_printed(
    desk: Desk,  # noqa: F811
    tmp_path: Path,
) -> None:
    photo = tmp_path / "heat-plant.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a photograph of the heat plant")

    item = desk.json("allegation", "evidence", str(photo), username="duty1")

    assert item == {
        "name": "heat-plant.jpg",
        "sha256": hashlib.sha256(photo.read_bytes()).hexdigest(),
        "size": photo.stat().st_size,
        "media_type": "image/jpeg",
    }
    code, out, _ = desk.run("allegation", "evidence", str(photo), username="duty1")
    assert code == 0
    assert "Stored heat-plant.jpg" in out
    assert item["sha256"] in out


def test_an_evidence_file_over_the_limit_is_refused_in_one_line(
    desk: Desk,  # noqa: F811
    tmp_path: Path,
) -> None:
    big = tmp_path / "video.mp4"
    big.write_bytes(b"\0" * (8 * 1024 * 1024 + 1))

    code, _, err = desk.run("allegation", "evidence", str(big), username="duty1")

    assert code == 2
    assert len(err.strip().splitlines()) == 1
