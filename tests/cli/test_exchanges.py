"""``parley exchange`` against a served node, and ``parley operator grant`` at the console."""

from __future__ import annotations

from pathlib import Path

from parley.services import Node
from tests.cli.test_cli import init, invoke
from tests.conftest import PASSWORD

AGREEMENT = "ab" * 32


def test_an_admin_grants_the_exchange_permission_at_the_console(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init(data)
    add = ("operator", "add", "--data", str(data), "--username", "officer1", "--role", "operator")
    code, _, err = invoke(*add, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, err
    grant = ("operator", "grant", "--data", str(data), "--username", "officer1")
    code, out, err = invoke(*grant, "--permission", "exchange")
    assert code == 0, err
    assert "officer1 now has the exchange permission" in out
    assert "operator.grant" in err
    code, out, _ = invoke(*grant, "--permission", "exchange")
    assert "already had" in out
    code, _, err = invoke(*grant, "--permission", "root")
    assert code == 2
    assert "permission: must be one of exchange" in err
    node = Node.open(data)
    try:
        assert node.store.grants_of("officer1") == frozenset({"exchange"})
    finally:
        node.close()


def test_exchange_commands_say_why_they_are_refused(
    served: tuple[Node, str], tmp_path: Path
) -> None:
    node, url = served
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    login = ("--node", url, "--username", "duty1", "--password-file", str(secret))
    listed = tmp_path / "list.csv"
    listed.write_bytes(b"name,latin,born,category,unit\n")

    code, _, err = invoke("exchange", "status", *login, AGREEMENT)
    assert code == 2, err
    assert f"no agreement {AGREEMENT}" in err
    code, _, err = invoke("exchange", "submit", *login, AGREEMENT, "--file", str(listed))
    assert code == 2
    assert "duty1 has no exchange permission" in err
    assert node.store.list_audit(after=0, limit=10, action="permission.denied")
    code, _, err = invoke(
        "exchange",
        "verify",
        *login,
        AGREEMENT,
        "--list",
        AGREEMENT,
        "--query",
        "twelve",
    )
    assert code == 2
    assert "'twelve' is not ROW=REASON" in err
