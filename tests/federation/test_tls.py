"""Federation over TLS between real ``parley serve`` processes on 127.0.0.1, with a CA of the
tests' own: messages cross over https, a node whose certificate that CA did not sign is not
believed, and with mutual TLS a client without a certificate is refused at the handshake."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.cli._cluster import LocalCluster, NodeTls
from tests.federation.harness import FAST, NAMES, RU, US, post
from tests.support.certs import Issued, TestCa

WAIT_S = 30.0


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


def served_with(issued: Issued) -> NodeTls:
    return NodeTls(issued.cert, issued.key)


def trusting(*cas: TestCa, present: Issued | None = None) -> ssl.SSLContext:
    """What the test's own calls trust (and the certificate they present, if any)."""
    context = ssl.create_default_context(cafile=str(cas[0].cert_file))
    for other in cas[1:]:
        context.load_verify_locations(cafile=str(other.cert_file))
    if present is not None:
        context.load_cert_chain(present.cert, present.key)
    return context


@pytest.fixture
def hotline_cluster(tmp_path: Path) -> Iterator[list[LocalCluster]]:
    """Stops whatever cluster a test started, whatever happened."""
    started: list[LocalCluster] = []
    yield started
    for cluster in started:
        cluster.stop()


def link_to(cluster: LocalCluster, party: str, peer: str) -> dict[str, Any]:
    links: list[dict[str, Any]] = cluster.call(party, "GET", "/links", "audit1")
    return next(link for link in links if link["party"] == peer)


def test_a_message_reaches_the_other_node_over_https(
    tmp_path: Path, ca: TestCa, hotline_cluster: list[LocalCluster]
) -> None:
    cluster = LocalCluster(
        tmp_path,
        {US: NAMES[US], RU: NAMES[RU]},
        settings={**FAST, "peer_ca_file": str(ca.cert_file)},
        tls={party: served_with(ca.issue(party)) for party in (US, RU)},
        verify=trusting(ca),
    )
    hotline_cluster.append(cluster)
    cluster.init()
    cluster.start()

    us = cluster.nodes[US]
    assert us.url.startswith("https://127.0.0.1:")
    assert json.loads((us.data / "served.json").read_text("utf-8"))["url"] == us.url
    assert f"on {us.url}/api/v1" in (tmp_path / f"{US}.log").read_text("utf-8")
    channel = cluster.open_channel(US, "hotline", {RU: "party"}, timeout_s=WAIT_S)
    sent = post(cluster, US, channel, "Line check over TLS")
    cluster.wait_for(
        lambda: cluster.has_event(RU, channel, sent["id"]), WAIT_S, "the message on ru-genstaff"
    )
    assert link_to(cluster, US, RU)["direct"] == "up"
    with pytest.raises(httpx.TransportError):  # nothing is answered in clear on that port
        httpx.get(us.url.replace("https://", "http://") + "/api/v1/health", trust_env=False)


def test_a_node_whose_certificate_the_ca_did_not_sign_is_not_believed(
    tmp_path: Path, ca: TestCa, hotline_cluster: list[LocalCluster]
) -> None:
    impostor = TestCa(tmp_path / "pki", "impostor")
    cluster = LocalCluster(
        tmp_path,
        {US: NAMES[US], RU: NAMES[RU]},
        settings={**FAST, "peer_ca_file": str(ca.cert_file)},
        tls={US: served_with(ca.issue(US)), RU: served_with(impostor.issue(RU))},
        verify=trusting(ca, impostor),
    )
    hotline_cluster.append(cluster)
    # ru-genstaff is only called here: it learns nothing but what us-eucom would push to it.
    cluster.init(lambda a, b: [] if a == RU else [cluster.nodes[b].url])
    cluster.start()

    created = cluster.call(
        US, "POST", "/channels", "admin", json={"name": "hotline", "members": {RU: "party"}}
    )

    def refused() -> bool:
        link = link_to(cluster, US, RU)
        return link["direct"] == "down" and "TLS certificate not trusted" in link["detail"]

    cluster.wait_for(refused, WAIT_S, "us-eucom to find ru-genstaff's certificate untrusted")
    assert link_to(cluster, US, RU)["reachable"] is False
    assert cluster.call(RU, "GET", "/channels", "audit1") == []
    assert cluster.journal(US, created["id"]) == {created["event"]["id"]}


def test_with_mutual_tls_a_client_without_a_certificate_is_refused_at_the_handshake(
    tmp_path: Path, ca: TestCa, hotline_cluster: list[LocalCluster]
) -> None:
    for party in (US, RU):  # each node presents its own client certificate, in its folder
        folder = tmp_path / party
        folder.mkdir(mode=0o700)
        issued = ca.issue(f"{party}-client", client=True)
        shutil.copy(issued.cert, folder / "client.pem")
        shutil.copy(issued.key, folder / "client.key")
    mutual = {
        "peer_ca_file": str(ca.cert_file),
        "tls_client_ca": str(ca.cert_file),
        "tls_client_cert": "client.pem",
        "tls_client_key": "client.key",
    }
    cluster = LocalCluster(
        tmp_path,
        {US: NAMES[US], RU: NAMES[RU]},
        settings={**FAST, **mutual},
        tls={party: served_with(ca.issue(party)) for party in (US, RU)},
        verify=trusting(ca, present=ca.issue("operator", client=True)),
    )
    hotline_cluster.append(cluster)
    cluster.init()
    cluster.start()

    channel = cluster.open_channel(RU, "hotline", {US: "party"}, timeout_s=WAIT_S)
    sent = post(cluster, RU, channel, "Line check over mutual TLS")
    cluster.wait_for(
        lambda: cluster.has_event(US, channel, sent["id"]), WAIT_S, "the message on us-eucom"
    )
    us = cluster.nodes[US]
    with pytest.raises(ssl.SSLError):
        handshake(us.port, trusting(ca))
    handshake(us.port, trusting(ca, present=ca.issue("auditor", client=True)))
    with pytest.raises(httpx.TransportError):  # TLS 1.3: no answer comes, only the close
        httpx.get(us.url + "/api/v1/health", verify=trusting(ca), trust_env=False, timeout=10)


def handshake(port: int, context: ssl.SSLContext) -> None:
    """A TLS 1.2 handshake with the node on ``port``: in 1.2 the server checks the client's
    certificate before the handshake ends, so a refusal is a failed handshake."""
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass
