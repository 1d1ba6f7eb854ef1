"""Services: what a node does, independent of how it is asked (API, CLI, web)."""

from ._auth import ROLE_PERMISSIONS, Permission, Principal, Role, require
from ._bus import Bus, BusItem
from ._channels import ChannelService, IngestOutcome
from ._deadlines import AlertService, alert_json
from ._federation import FederationService
from ._links import LinkMonitor
from ._node import CONFIG_FILE, KEY_FILE, Node, NodeConfig, init_node
from ._notify import NotificationService
from ._operators import IssuedToken, OperatorService
from ._replicator import Replicator
from ._status import EventView, MemberDelivery
from ._transport import HttpPeerTransport, PeerRefused, PeerTransport, PeerUnreachable

__all__ = [
    "CONFIG_FILE",
    "KEY_FILE",
    "ROLE_PERMISSIONS",
    "AlertService",
    "Bus",
    "BusItem",
    "ChannelService",
    "EventView",
    "FederationService",
    "HttpPeerTransport",
    "IngestOutcome",
    "IssuedToken",
    "LinkMonitor",
    "MemberDelivery",
    "Node",
    "NodeConfig",
    "NotificationService",
    "OperatorService",
    "PeerRefused",
    "PeerTransport",
    "PeerUnreachable",
    "Permission",
    "Principal",
    "Replicator",
    "Role",
    "alert_json",
    "init_node",
    "require",
]
