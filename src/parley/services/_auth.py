from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from parley.errors import Forbidden

__all__ = ["ROLE_PERMISSIONS", "Permission", "Principal", "Role", "require"]


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
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ, Permission.VIEW_ALERTS}),
}


@dataclass(frozen=True)
class Principal:
    """The operator behind a request, at this node's party."""

    username: str
    role: Role
    party: str
    lang: str = "en"  # the operator's language for rendered notifications

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden(f"role {principal.role} may not {permission.value.replace('_', ' ')}")
