from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from parley.errors import PermissionDenied
from parley.store import OperatorRecord, TokenRecord

__all__ = [
    "CONSOLE",
    "NEEDS_APPROVAL",
    "ROLE_PERMISSIONS",
    "Permission",
    "Principal",
    "Role",
    "Session",
    "SessionCache",
    "require",
]

Session = tuple[TokenRecord, OperatorRecord]

# Who acts at the node's console (``parley`` on its data folder): whoever holds its host. No
# operator may take the name, so the audit trail cannot confuse the two.
CONSOLE = "console"


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    READ = "read"
    POST = "post"
    ACK = "ack"
    VIEW_ALERTS = "view_alerts"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_PARTIES = "manage_parties"
    RELEASE = "release"  # the second person of a two-person release
    PUBLISH_CHECKPOINT = "publish_checkpoint"  # sign the log's checkpoint now
    APPROVE_OPERATORS = "approve_operators"  # the second person behind a new account
    READ_AUDIT = "read_audit"


# Admins run the node but do not speak for the party; auditors only read.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.READ, Permission.POST, Permission.ACK}),
    Role.SUPERVISOR: frozenset(
        {
            Permission.READ,
            Permission.POST,
            Permission.ACK,
            Permission.VIEW_ALERTS,
            Permission.RELEASE,
            Permission.PUBLISH_CHECKPOINT,
            Permission.APPROVE_OPERATORS,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.READ,
            Permission.VIEW_ALERTS,
            Permission.MANAGE_CHANNELS,
            Permission.MANAGE_OPERATORS,
            Permission.MANAGE_PARTIES,
            Permission.PUBLISH_CHECKPOINT,
            Permission.APPROVE_OPERATORS,
            Permission.READ_AUDIT,
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ, Permission.VIEW_ALERTS, Permission.READ_AUDIT}),
}

# An account made through the API with one of these roles speaks for the party or runs the
# node: one admin alone could otherwise make, and log in as, an account that sends.
NEEDS_APPROVAL = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The operator behind a request, at this node's party."""

    username: str
    role: Role
    party: str
    lang: str = "en"  # the operator's language for rendered notifications
    address: str = "local"  # where the request came from, for the audit trail

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise PermissionDenied(
            f"role {principal.role} may not {permission.value.replace('_', ' ')}",
            actor=principal.username,
            address=principal.address,
            permission=permission.value,
        )


class SessionCache:
    """Sessions (a token and its operator) by token hash, kept while the store's sessions
    version stays what it was when they were read: every request looks its token up, and
    reading the store for it cost more than the rest of a post.

    Unknown tokens are not kept (anyone may send any number of them); expiry, revocation
    and a disabled operator are judged on every request, from the session kept.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._kept: dict[str, tuple[int, Session]] = {}

    def read(
        self, token_hash: str, version: int | None, load: Callable[[], Session | None]
    ) -> Session | None:
        """The session of ``token_hash`` at ``version`` (asked before ``load`` reads, so a
        change committed meanwhile makes what it read stale); ``load`` reads the store."""
        kept = self._kept.get(token_hash)
        if kept is not None and kept[0] == version:
            return kept[1]
        session = load()
        if session is None or version is None:
            self._kept.pop(token_hash, None)
            return session
        if len(self._kept) >= self._limit:
            self._kept.clear()
        self._kept[token_hash] = (version, session)
        return session
