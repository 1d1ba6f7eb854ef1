"""TLS of a node: which peer URLs it takes, the contexts it serves and calls peers with, and
what a peer whose certificate is not trusted gets."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from parley.errors import InvalidInput, PeerUnreachable
from parley.services import Role
from parley.services._tls import check_peer_url, is_loopback, peer_context, server_context
from parley.settings import Settings
from tests.conftest import as_role, pin_all
from tests.support.certs import TestCa

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="module")
def ca(pki: Path) -> TestCa:
    return TestCa(pki)


# -- peer URLs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://ru.example:8702",
        "http://127.0.0.1:8702",
        "http://127.8.9.10:8702",
        "http://[::1]:8702",
        "http://localhost:8702",
        "http://LOCALHOST:8702",
    ],
)
def test_https_and_http_to_loopback_are_taken(url: str) -> None:
    assert check_peer_url(url + "/", "urls[0]", allow_http=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://ru.example:8702",
        "http://10.0.0.7:8702",
        "http://localhost.example:8702",
        "http://0.0.0.0:8702",
    ],
)
def test_plain_http_to_another_host_is_refused_naming_the_field_and_the_setting(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_peer_url(url, "urls[1]", allow_http=False)
    assert refused.value.errors[0].field == "urls[1]"
    assert "use https" in refused.value.detail
    assert "allow_http_peers = true" in refused.value.detail
    assert check_peer_url(url, "urls[1]", allow_http=True) == url


def test_loopback_is_127_8_and_1_and_localhost() -> None:
    assert [is_loopback(h) for h in ("127.0.0.1", "127.255.0.1", "::1", "localhost")] == [True] * 4
    assert [is_loopback(h) for h in ("128.0.0.1", "::2", "example", "")] == [False] * 4


async def test_pinning_and_setting_urls_refuse_plain_http_to_another_host(make_node):
    us, ru = make_node(US), make_node(RU)
    admin = as_role(us, Role.ADMIN)
    with pytest.raises(InvalidInput, match=r"urls\[1\]: 'http://ru.example' is plain http"):
        await us.pin_party(admin, RU, "RU", ru.public_key, ["https://a", "http://ru.example"])
    assert us.store.get_party(RU) is None
    await pin_all(us, ru)
    with pytest.raises(InvalidInput, match=r"urls\[0\]: 'http://ru.example' is plain http"):
        await us.set_peer_urls(admin, RU, ["http://ru.example"])
    assert await us.set_peer_urls(admin, RU, ["http://127.0.0.1:8702"]) == ["http://127.0.0.1:8702"]


async def test_allow_http_peers_takes_plain_http_for_a_lab(make_node):
    us, ru = make_node(US, allow_http_peers=True), make_node(RU)
    await pin_all(us, ru)
    urls = await us.set_peer_urls(as_role(us, Role.ADMIN), RU, ["http://ru.lab:8702"])
    assert urls == ["http://ru.lab:8702"]


async def test_a_plain_http_url_stored_before_the_check_is_not_called(make_node):
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)
    await us.store.write(lambda tx: tx.set_peer_urls(RU, ["http://ru.example:8702"]))

    with pytest.raises(PeerUnreachable, match=r"plain http to another host \(allow_http_peers"):
        await us.transport.call(RU, "GET", "/federation/v1/heads")
    await us.transport.close()


# -- the context parley serve answers with -----------------------------------------------------
def test_no_certificate_serves_plain_http(tmp_path: Path) -> None:
    assert server_context(tmp_path, Settings(), None, None) is None


def test_the_settings_name_files_under_the_data_folder(tmp_path: Path, ca: TestCa) -> None:
    issued = ca.issue("us-relative")
    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True)
    for source in (issued.cert, issued.key):
        (data / "tls" / source.name).write_bytes(source.read_bytes())
    settings = Settings(
        tls_cert=f"tls/{issued.cert.name}",
        tls_key=f"tls/{issued.key.name}",
        tls_client_ca=str(ca.cert_file),  # absolute stays absolute
    )

    context = server_context(data, settings, None, None)

    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_the_options_win_over_the_settings(tmp_path: Path, ca: TestCa) -> None:
    issued = ca.issue("us-option")
    settings = Settings(tls_cert="missing.pem", tls_key="missing.key")

    context = server_context(tmp_path, settings, issued.cert, issued.key)

    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE  # no tls_client_ca: no client certificate


def test_serving_errors_name_the_option_or_setting(tmp_path: Path, ca: TestCa) -> None:
    us, other = ca.issue("us-errors"), ca.issue("other")
    cases = [
        ((tmp_path / "nope.pem", us.key), Settings(), "--tls-cert", "does not exist"),
        ((us.cert, None), Settings(), "--tls-key", "needs both a certificate and its key"),
        ((us.cert, other.key), Settings(), "--tls-key", "is not the key of the certificate"),
        ((us.key, us.key), Settings(), "--tls-cert", "holds no PEM certificate"),
        ((us.cert, us.cert), Settings(), "--tls-key", "holds no PEM private key"),
        ((None, None), Settings(tls_cert="c.pem", tls_key="k.pem"), "settings.tls_cert", "c.pem"),
        ((None, None), Settings(tls_client_ca="ca.pem"), "settings.tls_client_ca", "needs TLS"),
        ((us.cert, us.key), Settings(tls_client_ca=str(us.key)), "settings.tls_client_ca", "no"),
    ]
    for (cert, key), settings, field, says in cases:
        with pytest.raises(InvalidInput) as refused:
            server_context(tmp_path, settings, cert, key)
        assert refused.value.errors[0].field == field, refused.value.detail
        assert says in refused.value.detail


# -- the context a node calls its peers with ---------------------------------------------------
def test_a_peer_ca_file_is_the_only_ca_trusted(tmp_path: Path, ca: TestCa) -> None:
    context = peer_context(tmp_path, Settings(peer_ca_file=str(ca.cert_file)))
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "Parley test CA"),),)
    ]


def test_peer_side_errors_name_the_setting(tmp_path: Path, ca: TestCa) -> None:
    client = ca.issue("client-errors", client=True)
    cases = [
        (Settings(peer_ca_file="none.pem"), "settings.peer_ca_file", "does not exist"),
        (Settings(peer_ca_file=str(client.key)), "settings.peer_ca_file", "no PEM certificate"),
        (Settings(tls_client_cert=str(client.cert)), "settings.tls_client_key", "go together"),
        (Settings(tls_client_key=str(client.key)), "settings.tls_client_cert", "go together"),
    ]
    for settings, field, says in cases:
        with pytest.raises(InvalidInput) as refused:
            peer_context(tmp_path, settings)
        assert refused.value.errors[0].field == field
        assert says in refused.value.detail


async def test_a_peer_whose_certificate_the_ca_did_not_sign_is_not_called(
    make_node, pki: Path, ca: TestCa
):
    impostor = TestCa(pki, "impostor").issue("ru-impostor")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(impostor.cert, impostor.key)
    heard: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.read(1024))
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    us, ru = make_node(US, peer_ca_file=str(ca.cert_file)), make_node(RU)
    await us.pin_party(
        as_role(us, Role.ADMIN), RU, "RU", ru.public_key, [f"https://127.0.0.1:{port}"]
    )
    try:
        with pytest.raises(PeerUnreachable, match="TLS certificate not trusted"):
            await us.transport.call(RU, "GET", "/federation/v1/heads")
    finally:
        await us.transport.close()
        server.close()
        await server.wait_closed()
    assert heard == []  # not a byte of the signed request reached it
