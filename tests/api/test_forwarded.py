"""Whose address a login failure counts against, on a real ``parley serve``: the connection's,
unless the node was told to believe a reverse proxy's ``X-Forwarded-For``."""

from __future__ import annotations

from tests.api.processes import ServedNode

PER_ADDRESS = 20  # login_failures_per_address, default


def _wrong_logins(served_node: ServedNode, count: int) -> list[int]:
    server = served_node.start()
    with server.client() as client:
        return [
            client.post(
                "/auth/token",
                json={"username": f"guess{n:03d}", "password": "not the password at all"},
                headers={"x-forwarded-for": f"198.51.100.{n}"},
            ).status_code
            for n in range(count)
        ]


def test_a_client_cannot_name_another_address_to_escape_the_throttle(
    served_node: ServedNode,
) -> None:
    statuses = _wrong_logins(served_node, PER_ADDRESS + 1)

    assert statuses[:PER_ADDRESS] == [401] * PER_ADDRESS
    assert statuses[PER_ADDRESS] == 429


def test_a_trusted_proxy_names_the_client(served_node: ServedNode) -> None:
    config = served_node.data / "parley.toml"
    text = config.read_text("utf-8").replace(
        "[settings]", '[settings]\ntrusted_proxies = "127.0.0.1"'
    )
    config.write_text(text)

    statuses = _wrong_logins(served_node, PER_ADDRESS + 1)

    assert statuses == [401] * (PER_ADDRESS + 1)
