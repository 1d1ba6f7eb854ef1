"""Services: what a node does, independent of how it is asked (API, CLI, web)."""

from ._auth import ROLE_PERMISSIONS, Permission, Principal, Role, require
from ._bundle import BundleReport, ExportSummary, export_bundle, verify_bundle
from ._bus import Bus, BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._deadlines import AlertService, alert_json
from ._deconflict import DeconflictionService
from ._federation import FederationService
from ._ingest import IngestOutcome, IngestService
from ._journal import Journal
from ._links import LinkMonitor
from ._node import CONFIG_FILE, KEY_FILE, Node, NodeConfig, init_node
from ._notify import NotificationService
from ._operators import IssuedToken, OperatorService
from ._replicator import Replicator
from ._sites import CATEGORIES, MORATORIUM_CATEGORIES, ImportReport, SiteService
from ._status import EventView, MemberDelivery
from ._transparency import (
    ConsistencyProof,
    InclusionProof,
    SignedCheckpoint,
    TransparencyLog,
    Witness,
)
from ._transport import HttpPeerTransport, PeerTransport

__all__ = [
    "CATEGORIES",
    "CONFIG_FILE",
    "KEY_FILE",
    "MORATORIUM_CATEGORIES",
    "ROLE_PERMISSIONS",
    "AlertService",
    "BundleReport",
    "Bus",
    "BusItem",
    "ChannelService",
    "ConsistencyProof",
    "DeconflictionService",
    "EventView",
    "ExportSummary",
    "FederationService",
    "HttpPeerTransport",
    "ImportReport",
    "InclusionProof",
    "IngestOutcome",
    "IngestService",
    "IssuedToken",
    "Journal",
    "LinkMonitor",
    "MemberDelivery",
    "Node",
    "NodeConfig",
    "NodeContext",
    "NotificationService",
    "OperatorService",
    "PeerTransport",
    "Permission",
    "Principal",
    "Replicator",
    "Role",
    "SignedCheckpoint",
    "SiteService",
    "TransparencyLog",
    "Witness",
    "alert_json",
    "export_bundle",
    "init_node",
    "require",
    "verify_bundle",
]
