"""TLS of a node: the context ``parley serve`` answers with, the one it calls peers with, and
which peer URLs it accepts.

Only the standard ``ssl`` module does TLS; ``cryptography`` reads the PEM files first, so that
a wrong file is named in one line rather than by OpenSSL's "PEM lib".
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from parley.errors import InvalidInput
from parley.settings import Settings

__all__ = ["check_peer_url", "http_allowed", "is_loopback", "peer_context", "server_context"]

_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def server_context(
    data_dir: Path, settings: Settings, cert_option: Path | None, key_option: Path | None
) -> ssl.SSLContext | None:
    """The TLS context of ``parley serve``, or None to serve plain http.

    ``--tls-cert``/``--tls-key`` win over the settings ``tls_cert``/``tls_key`` (relative to the
    data folder); with ``tls_client_ca`` a client must present a certificate it signed.
    """
    cert = _chosen(cert_option, "--tls-cert", data_dir, settings, "tls_cert")
    key = _chosen(key_option, "--tls-key", data_dir, settings, "tls_key")
    client_ca = _chosen(None, "", data_dir, settings, "tls_client_ca")
    if cert is None and key is None:
        if client_ca is not None:
            raise InvalidInput.for_field(
                client_ca[1], "asks clients for a certificate, which needs TLS: set --tls-cert"
            )
        return None
    if cert is None or key is None:
        missing = "--tls-cert" if cert is None else "--tls-key"
        raise InvalidInput.for_field(missing, "TLS needs both a certificate and its key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_pair(context, cert, key)
    if client_ca is not None:
        _load_ca(context, client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_context(data_dir: Path, settings: Settings) -> ssl.SSLContext:
    """What this node trusts in a peer's https certificate (``peer_ca_file``, else the system's
    trust store) and the certificate it presents to a peer that asks for one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks the certificate and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca = _chosen(None, "", data_dir, settings, "peer_ca_file")
    if ca is None:
        context.load_default_certs()
    else:  # the private CA alone: no public CA may vouch for a peer's node
        _load_ca(context, ca)
    cert = _chosen(None, "", data_dir, settings, "tls_client_cert")
    key = _chosen(None, "", data_dir, settings, "tls_client_key")
    if (cert is None) != (key is None):
        field = "settings.tls_client_key" if key is None else "settings.tls_client_cert"
        raise InvalidInput.for_field(field, "tls_client_cert and tls_client_key go together")
    if cert is not None and key is not None:
        _load_pair(context, cert, key)
    return context


def check_peer_url(url: str, field: str, *, allow_http: bool) -> str:
    """A peer node's URL as stored, without a trailing slash.

    Plain http is refused unless ``allow_http`` or the host is loopback: traffic to loopback
    never leaves this host, so the demo and tests run on it without certificates.
    """
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput.for_field(field, f"{url!r} is not an http(s) URL of a node")
    if parsed.query or parsed.fragment:
        raise InvalidInput.for_field(field, "a node URL has no query or fragment")
    if not http_allowed(url, allow_http=allow_http):
        raise InvalidInput.for_field(
            field,
            f"{url!r} is plain http to another host: use https (the setting "
            "allow_http_peers = true allows http, for a lab)",
        )
    return url.rstrip("/")


def http_allowed(url: str, *, allow_http: bool) -> bool:
    """False for a plain http URL to another host when ``allow_http`` is off."""
    parsed = urlsplit(url)
    return parsed.scheme != "http" or allow_http or is_loopback(parsed.hostname or "")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: an address that never leaves this host."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Chosen = tuple[Path, str]  # a file and what names it in an error


def _chosen(
    option: Path | None, option_name: str, data_dir: Path, settings: Settings, setting: str
) -> Chosen | None:
    if option is not None:
        return option, option_name
    value: str = getattr(settings, setting)
    # An absolute setting stays as it is; a relative one is under the data folder.
    return (data_dir / value, f"settings.{setting}") if value else None


def _readable(path: Path, field: str) -> str:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise InvalidInput.for_field(field, f"{path} {what}")
    return str(path)


def _load_pair(context: ssl.SSLContext, cert: Chosen, key: Chosen) -> None:
    try:
        x509.load_pem_x509_certificates(Path(_readable(*cert)).read_bytes())
    except ValueError as exc:
        raise InvalidInput.for_field(cert[1], f"{cert[0]} holds no PEM certificate") from exc
    try:
        serialization.load_pem_private_key(Path(_readable(*key)).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        detail = f"{key[0]} holds no PEM private key without a passphrase"
        raise InvalidInput.for_field(key[1], detail) from exc
    try:
        context.load_cert_chain(cert[0], key[0])
    except ssl.SSLError as exc:
        detail = f"{key[0]} is not the key of the certificate in {cert[0]}"
        if exc.reason != "KEY_VALUES_MISMATCH":
            detail = f"{cert[0]} and {key[0]} cannot be used: {exc.reason or exc}"
        raise InvalidInput.for_field(key[1], detail) from exc


def _load_ca(context: ssl.SSLContext, ca: Chosen) -> None:
    try:
        context.load_verify_locations(cafile=_readable(*ca))
    except ssl.SSLError as exc:
        raise InvalidInput.for_field(ca[1], f"{ca[0]} holds no PEM certificate") from exc
