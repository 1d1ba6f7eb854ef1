"""``parley serve`` with a certificate, its errors in one line, and peer URLs that are plain
http to another host refused by ``parley peer add`` and ``peer set-urls``."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import pytest

from tests.cli.test_cli import init, invoke, public_key_of
from tests.support.certs import Issued, TestCa

RU = "ru-genstaff"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def node(tmp_path: Path) -> Path:
    data = tmp_path / "us-eucom"
    init(data)
    return data


def test_serve_with_a_certificate_answers_https_and_records_it(
    node: Path, ca: TestCa, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    issued = ca.issue("us-serve")
    contexts: list[ssl.SSLContext | None] = []

    def loaded_and_stopped(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        server.config.load()
        contexts.append(server.config.ssl)
        for listener in sockets:
            listener.close()

    monkeypatch.setattr(uvicorn.Server, "run", loaded_and_stopped)
    code, out, err = invoke(*serve(node, issued), "--port", "0")

    assert code == 0, err
    url = json.loads((node / "served.json").read_text("utf-8"))["url"]
    assert url.startswith("https://127.0.0.1:")
    assert out == f"Parley node us-eucom on {url}/api/v1 (docs: /docs)\n"
    (context,) = contexts
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE


def serve(data: Path, issued: Issued) -> tuple[str, ...]:
    return (
        "serve",
        "--data",
        str(data),
        "--tls-cert",
        str(issued.cert),
        "--tls-key",
        str(issued.key),
    )


@pytest.mark.parametrize(
    ("bend", "says"),
    [
        ("missing-cert", "Invalid input: --tls-cert: {cert} does not exist"),
        (
            "other-key",
            "Invalid input: --tls-key: {key} is not the key of the certificate in {cert}",
        ),
        ("key-as-cert", "Invalid input: --tls-cert: {cert} holds no PEM certificate"),
        ("no-key", "Invalid input: --tls-key: TLS needs both a certificate and its key"),
    ],
)
def test_serve_refuses_a_certificate_it_cannot_use_in_one_line_with_exit_2(
    node: Path, ca: TestCa, tmp_path: Path, bend: str, says: str
) -> None:
    issued, other = ca.issue("us-bent"), ca.issue("other")
    cert, key = {
        "missing-cert": (tmp_path / "missing.pem", issued.key),
        "other-key": (issued.cert, other.key),
        "key-as-cert": (issued.key, issued.key),
        "no-key": (issued.cert, None),
    }[bend]
    args = ["serve", "--data", str(node), "--port", "0", "--tls-cert", str(cert)]
    args += [] if key is None else ["--tls-key", str(key)]

    code, out, err = invoke(*args)

    assert (code, out) == (2, "")
    assert err == says.format(cert=cert, key=key)
    assert not (node / "served.json").exists()


def test_serve_refuses_client_certificates_without_tls(node: Path, ca: TestCa) -> None:
    config = node / "parley.toml"
    config.write_text(
        config.read_text("utf-8").replace(
            "[settings]", f'[settings]\ntls_client_ca = "{ca.cert_file}"'
        ),
        "utf-8",
    )
    code, _, err = invoke("serve", "--data", str(node), "--port", "0")
    assert code == 2
    assert err.startswith("Invalid input: settings.tls_client_ca: asks clients for a certificate")


@pytest.mark.parametrize("command", ["add", "set-urls"])
def test_a_plain_http_url_to_another_host_is_refused_in_one_line(
    node: Path, tmp_path: Path, command: str
) -> None:
    peer = tmp_path / RU
    init(peer, RU, "Russian General Staff")
    pin = ("peer", "add", "--data", str(node), "--party", RU, "--key", public_key_of(peer))
    if command == "set-urls":
        assert invoke(*pin)[0] == 0
    args = pin if command == "add" else ("peer", "set-urls", "--data", str(node), "--party", RU)

    code, _, err = invoke(*args, "--url", "http://ru.example:8702")

    assert code == 2
    assert err == (
        "Invalid input: urls[0]: 'http://ru.example:8702' is plain http to another host: use "
        "https (the setting allow_http_peers = true allows http, for a lab)"
    )
    code, _, err = invoke(*args, "--url", "http://127.0.0.1:8702")
    assert code == 0, err
