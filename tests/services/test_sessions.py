"""The sessions a node keeps between requests: read once, read again as soon as anything
that could change them is committed, by this node or by the CLI beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from parley.errors import AuthenticationFailed
from parley.services import Node, Role
from parley.store import OperatorRecord, TokenRecord
from tests.conftest import PASSWORD, NodeFactory, as_role

pytestmark = pytest.mark.anyio
US = "us-eucom"
PARLEY = Path(sys.executable).with_name("parley")


class CountingReads:
    """Counts the node's reads of a session from the store."""

    def __init__(self, node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        read = node.store.get_session

        def counted(token_hash: str) -> tuple[TokenRecord, OperatorRecord] | None:
            self.count += 1
            return read(token_hash)

        monkeypatch.setattr(node.store, "get_session", counted)


async def signed_in(make_node: NodeFactory, *usernames: str) -> tuple[Node, list[str]]:
    node = make_node(US)
    await node.operators.add("admin1", "admin", PASSWORD)
    tokens = []
    for username in usernames:
        await node.operators.add(username, "operator", PASSWORD)
        tokens.append((await node.operators.login(username, PASSWORD)).token)
    return node, tokens


async def test_a_session_is_read_once_while_nothing_changes(
    make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, (token,) = await signed_in(make_node, "duty1")
    reads = CountingReads(node, monkeypatch)
    for _ in range(5):
        assert node.operators.authenticate(token).username == "duty1"
    assert reads.count == 1


async def test_a_post_leaves_the_sessions_kept(
    make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, (token,) = await signed_in(make_node, "duty1")
    reads = CountingReads(node, monkeypatch)
    node.operators.authenticate(token)
    await node.store.write(lambda tx: tx.remember_idempotency("duty1", "k", "ev_x"))
    node.operators.authenticate(token)
    assert reads.count == 1


async def test_a_logout_is_refused_from_its_answer_on(make_node: NodeFactory) -> None:
    node, (token,) = await signed_in(make_node, "duty1")
    node.operators.authenticate(token)
    await node.operators.logout(token)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        node.operators.authenticate(token)


async def test_disabling_an_operator_refuses_its_kept_sessions_at_once(
    make_node: NodeFactory,
) -> None:
    node, (token, other) = await signed_in(make_node, "duty1", "duty2")
    node.operators.authenticate(token)
    node.operators.authenticate(other)
    await node.operators.disable(as_role(node, Role.ADMIN, "admin1"), "duty1")
    with pytest.raises(AuthenticationFailed):
        node.operators.authenticate(token)
    assert node.operators.authenticate(other).username == "duty2"


async def test_a_changed_language_is_the_principal_s_at_once(make_node: NodeFactory) -> None:
    node, (token,) = await signed_in(make_node, "duty1")
    principal = node.operators.authenticate(token)
    await node.operators.set_language(principal, "uk")
    assert node.operators.authenticate(token).lang == "uk"


async def test_a_grant_reads_the_sessions_again(
    make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, (token,) = await signed_in(make_node, "duty1")
    reads = CountingReads(node, monkeypatch)
    node.operators.authenticate(token)
    await node.exchanges.grant(as_role(node, Role.ADMIN, "admin1"), "duty1", "exchange")
    node.operators.authenticate(token)
    assert reads.count == 2


async def test_the_cli_disabling_an_operator_beside_the_node_takes_effect_at_once(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node, (token, other) = await signed_in(make_node, "duty1", "duty2")
    node.operators.authenticate(token)  # kept

    subprocess.run(
        [PARLEY, "operator", "disable", "--data", str(tmp_path / US), "--username", "duty1"],
        check=True,
        capture_output=True,
        timeout=120,
    )

    with pytest.raises(AuthenticationFailed):
        node.operators.authenticate(token)
    assert node.operators.authenticate(other).username == "duty2"
