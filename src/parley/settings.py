"""Every setting of a node, declared once with its default and what it does.

``docs/settings.md`` documents each one (a test checks), and ``parley.toml`` in the
data folder may override any of them under ``[settings]``; an environment variable
``PARLEY_<NAME>`` (the name in capitals) overrides both.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Final, get_type_hints

import tomli_w

from parley.errors import InvalidInput
from parley.protocol import MAX_TEXT_BYTES, Precedence

__all__ = ["ENV_PREFIX", "Settings", "describe_settings", "settings_from", "settings_toml"]

ENV_PREFIX: Final = "PARLEY_"
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("0", "false", "no", "off")


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    deadline_flash_s: int = _setting(600, "Acknowledgement deadline of a flash message, seconds.")
    deadline_immediate_s: int = _setting(3600, "Deadline of an immediate message, seconds.")
    deadline_priority_s: int = _setting(6 * 3600, "Deadline of a priority message, seconds.")
    deadline_routine_s: int = _setting(24 * 3600, "Deadline of a routine message, seconds.")
    escalation_interval_s: float = _setting(
        5.0, "How often the node looks for overdue messages, seconds."
    )
    token_ttl_s: int = _setting(12 * 3600, "Lifetime of an operator's bearer token, seconds.")
    console_idle_s: int = _setting(
        900,
        "How long a console session may go without its operator opening a page or sending a "
        "form before it is signed out and its token revoked, seconds; the live updates of an "
        "open page do not count.",
    )
    password_time_cost: int = _setting(3, "Argon2id passes when hashing an operator password.")
    password_memory_kib: int = _setting(
        64 * 1024, "Argon2id memory per password hash, KiB (at least 32)."
    )
    password_workers: int = _setting(
        2,
        "Most password hashes computed at once, each holding password_memory_kib; other "
        "logins wait their turn, and the rest of the node keeps its threads.",
    )
    login_failures_per_username: int = _setting(
        5, "Failed logins of one username within login_window_s before the node answers 429."
    )
    login_failures_per_address: int = _setting(
        20, "Failed logins from one client address within login_window_s before 429."
    )
    login_window_s: float = _setting(
        300.0, "The sliding window in which failed logins count, seconds."
    )
    login_throttle_entries: int = _setting(
        10_000,
        "Most usernames and addresses whose recent failures the node remembers; past it, "
        "the least recently seen is forgotten first.",
    )
    max_text_bytes: int = _setting(MAX_TEXT_BYTES, "Largest message text, UTF-8 bytes.")
    max_request_bytes: int = _setting(256 * 1024, "Largest HTTP request body, bytes.")
    max_unauthenticated_bytes: int = _setting(
        16 * 1024,
        "Largest body of a request without a valid bearer token (a login), bytes; a larger "
        "one is refused with 413 before it is read.",
    )
    unauthenticated_body_timeout_s: float = _setting(
        10.0,
        "How long a request without a valid bearer token may take to send its body, seconds; "
        "a slower one is cut with 408.",
    )
    max_evidence_bytes: int = _setting(
        8 * 1024 * 1024,
        "Largest evidence file of an allegation, bytes; an upload over it is refused with 413, "
        "and a peer's file over it is not fetched. Keep it under three quarters of "
        "max_peer_answer_bytes: a peer sends a file in base64.",
    )
    allegation_answer_s: int = _setting(
        72 * 3600,
        "How long the accused party has to answer an allegation, seconds, where the channel "
        "agreed no allegation_answer deadline; an allegation unanswered by then escalates.",
    )
    group_commit_max_batch: int = _setting(
        256, "Most writes that share one transaction and fsync; 1 turns group commit off."
    )
    sse_keepalive_s: float = _setting(15.0, "Seconds between keep-alive comments on a stream.")
    federation_window_s: int = _setting(
        300, "How far a peer's request timestamp may be from this node's clock, seconds."
    )
    max_federation_bytes: int = _setting(
        8 * 1024 * 1024, "Largest federation request body (a batch of events), bytes."
    )
    max_channels_opened_by_peer: int = _setting(
        100, "Most channels one peer may open with this node; its next invitation is refused."
    )
    max_peer_answer_bytes: int = _setting(
        16 * 1024 * 1024, "Largest answer read from a peer's node, bytes."
    )
    replication_batch: int = _setting(200, "Most events pushed or pulled in one request.")
    anti_entropy_interval_s: float = _setting(
        5.0, "How often a node compares heads with each peer and fetches what it lacks, seconds."
    )
    receipt_delay_s: float = _setting(
        0.2, "How long a node waits to confirm received events with an explicit receipt."
    )
    retry_max_s: float = _setting(30.0, "Longest wait between retries to an unreachable peer.")
    peer_timeout_s: float = _setting(10.0, "Timeout of one request to a peer, seconds.")
    metrics_token: str = _setting(
        "",
        "Bearer token a monitoring system sends to read GET /metrics; empty: /metrics answers "
        "only requests from loopback (127.0.0.0/8, ::1).",
    )
    writer_stuck_s: float = _setting(
        30.0,
        "How long the store writer may spend on one commit before the node reports not ready, "
        "seconds.",
    )
    tls_cert: str = _setting(
        "",
        "Certificate chain (PEM) 'parley serve' answers https with, a path relative to the "
        "data folder or absolute; --tls-cert wins over it. Empty (and no --tls-cert): plain http.",
    )
    tls_key: str = _setting(
        "", "Private key (PEM, no passphrase) of tls_cert, relative to the data folder or absolute."
    )
    tls_client_ca: str = _setting(
        "",
        "CA certificates (PEM): when set, 'parley serve' completes a TLS handshake only with a "
        "client presenting a certificate they signed (peers' nodes and operators alike).",
    )
    peer_ca_file: str = _setting(
        "",
        "CA certificates (PEM) trusted to sign peers' https certificates, relative to the data "
        "folder or absolute; empty: the system's trust store.",
    )
    tls_client_cert: str = _setting(
        "",
        "Certificate (PEM) this node presents when calling a peer that requires one "
        "(tls_client_ca there); with tls_client_key.",
    )
    tls_client_key: str = _setting("", "Private key (PEM, no passphrase) of tls_client_cert.")
    trusted_proxies: str = _setting(
        "",
        "Addresses (comma-separated) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto the node believes; empty: nobody's, the connection's address counts.",
    )
    allow_http_peers: bool = _setting(
        False,
        "Accept plain http:// URLs of peers' nodes on other hosts (a lab without certificates); "
        "http to loopback (127.0.0.0/8, ::1, localhost) is accepted either way.",
    )
    key_passphrase_file: str = _setting(
        "",
        "A file, readable by its owner only, whose first line is the passphrase of an encrypted "
        "node.key; the environment variable PARLEY_KEY_PASSPHRASE wins over it.",
    )
    link_test_interval_s: float = _setting(
        600.0,
        "How often a link_test event is sent to each peer, seconds; a party not heard from "
        "for two of them shows as unreachable.",
    )
    link_degraded_rtt_ms: int = _setting(
        2000, "Round trip of a link test above which the direct path shows as degraded, ms."
    )
    deconfliction_rebuild_threshold: int = _setting(
        5000, "Items added to the deconfliction index before its base tree is rebuilt."
    )
    deconfliction_site_poll_s: float = _setting(
        5.0,
        "How often a running node looks for protected sites imported since it started "
        "('parley sites import') and indexes them, seconds.",
    )
    agreement_check_interval_s: float = _setting(
        60.0,
        "How often the node looks for agreements whose term ends within 72 h or 24 h, or has "
        "ended, to alert its operators, seconds.",
    )
    deconfliction_site_alert_cap: int = _setting(
        50,
        "Most deconfliction alerts one item raises against this node's imported protected "
        "sites; past it, one summary alert counts the rest by category.",
    )
    log_batch: int = _setting(
        1000, "Most events appended to the transparency log in one transaction."
    )
    log_delay_s: float = _setting(
        0.2, "How long newly stored events gather before they are appended to the log, seconds."
    )
    checkpoint_interval_s: float = _setting(
        60.0, "How often the node signs a checkpoint of its log if it grew, seconds."
    )
    witness_interval_s: float = _setting(
        60.0,
        "How often the node fetches each peer's checkpoint, checks it is consistent with the "
        "last one it saw and cosigns it, seconds.",
    )
    log_level: str = _setting(
        "info",
        "Least level 'parley serve' logs: debug, info, warning or error; its access log and "
        "audit trail are written at any level. --log-level wins over it.",
    )
    log_format: str = _setting(
        "console",
        "How 'parley serve' writes its log lines on standard error: console (text for a "
        "person) or json (one object a line, for a log host). --log-format wins over it.",
    )
    database_url: str = _setting(
        "",
        "SQLAlchemy URL of the store; empty means parley.db in the data folder. PostgreSQL: "
        "postgresql+psycopg://USER@/DB?host=H1:P1&host=H2:P2&target_session_attrs=read-write "
        "names a primary and its standby (docs/deploy.md).",
    )
    leader_poll_s: float = _setting(
        1.0,
        "On PostgreSQL, how often a process that does not lead the background duties tries to "
        "take them over, and the leader checks it still holds them, seconds.",
    )
    exchange_retention_s: int = _setting(
        30 * 86400,
        "How long after an exchange is completed this node keeps its key, so that its lists "
        "stay readable here; parley exchange shred destroys the key only after it, seconds.",
    )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Overrides from a config file; an unknown name or a wrong type names the setting."""
        types = get_type_hints(cls)
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            if name not in types:
                raise InvalidInput.for_field(f"settings.{name}", "is not a setting")
            parsed[name] = _coerce(name, types[name], value)
        return cls(**parsed)

    def ack_deadline(self, precedence: Precedence) -> timedelta:
        seconds: int = getattr(self, f"deadline_{precedence.value}_s")
        return timedelta(seconds=seconds)


def describe_settings() -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) of every setting, in declaration order."""
    types = get_type_hints(Settings)
    return [
        (f.name, types[f.name].__name__, f.default, f.metadata["help"]) for f in fields(Settings)
    ]


def settings_from(
    file_values: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """The file's ``[settings]``, each overridden by its ``PARLEY_<NAME>`` variable if set:
    a container or a service manager sets a node up without editing its file."""
    environ = os.environ if environ is None else environ
    types = get_type_hints(Settings)
    merged = dict(file_values)
    for name, kind in types.items():
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            merged[name] = _from_text(variable, kind, environ[variable])
    return Settings.from_mapping(merged)


def _from_text(variable: str, kind: type, text: str) -> Any:
    """An environment variable's text as the setting's type; a wrong one names the variable."""
    try:
        if kind is bool:
            if text.strip().lower() not in _TRUE + _FALSE:
                raise ValueError(text)
            return text.strip().lower() in _TRUE
        return kind(text)
    except ValueError as exc:
        raise InvalidInput.for_field(variable, f"must be of type {kind.__name__}") from exc


def settings_toml(overrides: Mapping[str, Any]) -> str:
    """The ``[settings]`` table of a new ``parley.toml``: every setting with what it does, those
    not in ``overrides`` commented out at their default, so the file lists what may be set."""
    lines = ["[settings]"]
    for name, _kind, default, text in describe_settings():
        lines.append("")
        lines.extend(f"# {line}" for line in _wrapped(text))
        assignment = tomli_w.dumps({name: overrides.get(name, default)}).strip()
        lines.append(assignment if name in overrides else f"# {assignment}")
    return "\n".join(lines) + "\n"


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, width=96) or [""]


def _coerce(name: str, kind: type, value: Any) -> Any:
    if kind is bool and isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput.for_field(f"settings.{name}", f"must be of type {kind.__name__}")
    if kind is float and isinstance(value, int | float):
        return float(value)
    if not isinstance(value, kind):
        raise InvalidInput.for_field(f"settings.{name}", f"must be of type {kind.__name__}")
    return value
