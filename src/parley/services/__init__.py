"""Services: what a node does, independent of how it is asked (API, CLI, web)."""

from ._auth import ROLE_PERMISSIONS, Permission, Principal, Role, require
from ._bus import Bus, BusItem
from ._channels import ChannelService, IngestOutcome
from ._deadlines import AlertService, alert_json
from ._node import CONFIG_FILE, KEY_FILE, Node, NodeConfig, init_node
from ._operators import IssuedToken, OperatorService
from ._status import EventView, MemberDelivery

__all__ = [
    "CONFIG_FILE",
    "KEY_FILE",
    "ROLE_PERMISSIONS",
    "AlertService",
    "Bus",
    "BusItem",
    "ChannelService",
    "EventView",
    "IngestOutcome",
    "IssuedToken",
    "MemberDelivery",
    "Node",
    "NodeConfig",
    "OperatorService",
    "Permission",
    "Principal",
    "Role",
    "alert_json",
    "init_node",
    "require",
]
