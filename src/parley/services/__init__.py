"""Services: what a node does, independent of how it is asked (API, CLI, web).

They answer with records; an adapter decides how a record is shown.
"""

from parley.store import (
    AlertRecord,
    AuditRecord,
    ChannelRecord,
    CosignatureRecord,
    DraftRecord,
    LinkRecord,
    OperatorRecord,
    PartyRecord,
    SiteRecord,
)

from ._agreements import AgreementService, AgreementView
from ._allegations import AllegationService
from ._audit import AUDIT_LOGGER, AuditService, record_audit
from ._auth import CONSOLE, NEEDS_APPROVAL, ROLE_PERMISSIONS, Permission, Principal, Role, require
from ._backup import BackupSummary, RestoreSummary, create_backup, restore_backup
from ._bundle import BundleReport, ExportSummary, export_bundle, verify_bundle
from ._bus import Bus, BusItem
from ._channels import IDEMPOTENCY_KEY_MAX, ChannelService
from ._context import NodeContext
from ._deadlines import AlertService
from ._deconflict import DeconflictionService, Meeting, Situation
from ._deconflict_alerts import DeconflictionAlert
from ._evidence import EvidenceFile, EvidenceService
from ._excerpt import Excerpt, ExcerptService
from ._exchanges import EXCHANGE_PERMISSION, ExchangeService, OpenedList, Submitted
from ._federation import FederationService, PushOutcome
from ._files import write_private
from ._health import Health, Readiness
from ._inbox import Inbox, InboxItem, waits_for
from ._ingest import IngestOutcome, IngestService
from ._journal import Journal
from ._keyfile import PASSPHRASE_ENV, check_passphrase, key_is_encrypted
from ._keys import KeyChange, KeyService
from ._links import LinkMonitor, LinkStatus
from ._node import CONFIG_FILE, KEY_FILE, Node, NodeConfig, init_node
from ._notify import NotificationService
from ._operators import MIN_PASSWORD_LENGTH, IssuedToken, OperatorService
from ._paging import PAGE_LIMIT
from ._proofs import ConsistencyProof, InclusionProof, Tile
from ._rejoin import Rejoined
from ._replicator import Replicator
from ._reports import (
    STATES as ALLEGATION_STATES,
)
from ._reports import (
    AllegationReport,
    build_report,
    day_of,
    report_csv,
    report_html,
    report_pdf,
    report_png,
)
from ._restored import restored
from ._schema import schema_state, upgrade_schema
from ._sites import CATEGORIES, MORATORIUM_CATEGORIES, ImportReport, SiteService
from ._status import EventStatus, EventView, MemberDelivery, ReplyClock, ReplyState
from ._talks import RoundDetail, TalksRound, TalksService
from ._tls import server_context
from ._transparency import ServedCheckpoint, SignedCheckpoint, TransparencyLog
from ._transport import HttpPeerTransport, PeerTransport
from ._witness import Witness

__all__ = [
    "ALLEGATION_STATES",
    "AUDIT_LOGGER",
    "CATEGORIES",
    "CONFIG_FILE",
    "CONSOLE",
    "EXCHANGE_PERMISSION",
    "IDEMPOTENCY_KEY_MAX",
    "KEY_FILE",
    "MIN_PASSWORD_LENGTH",
    "MORATORIUM_CATEGORIES",
    "NEEDS_APPROVAL",
    "PAGE_LIMIT",
    "PASSPHRASE_ENV",
    "ROLE_PERMISSIONS",
    "AgreementService",
    "AgreementView",
    "AlertRecord",
    "AlertService",
    "AllegationReport",
    "AllegationService",
    "AuditRecord",
    "AuditService",
    "BackupSummary",
    "BundleReport",
    "Bus",
    "BusItem",
    "ChannelRecord",
    "ChannelService",
    "ConsistencyProof",
    "CosignatureRecord",
    "DeconflictionAlert",
    "DeconflictionService",
    "DraftRecord",
    "EventStatus",
    "EventView",
    "EvidenceFile",
    "EvidenceService",
    "Excerpt",
    "ExcerptService",
    "ExchangeService",
    "ExportSummary",
    "FederationService",
    "Health",
    "HttpPeerTransport",
    "ImportReport",
    "Inbox",
    "InboxItem",
    "InclusionProof",
    "IngestOutcome",
    "IngestService",
    "IssuedToken",
    "Journal",
    "KeyChange",
    "KeyService",
    "LinkMonitor",
    "LinkRecord",
    "LinkStatus",
    "Meeting",
    "MemberDelivery",
    "Node",
    "NodeConfig",
    "NodeContext",
    "NotificationService",
    "OpenedList",
    "OperatorRecord",
    "OperatorService",
    "PartyRecord",
    "PeerTransport",
    "Permission",
    "Principal",
    "PushOutcome",
    "Readiness",
    "Rejoined",
    "Replicator",
    "ReplyClock",
    "ReplyState",
    "RestoreSummary",
    "Role",
    "RoundDetail",
    "ServedCheckpoint",
    "SignedCheckpoint",
    "SiteRecord",
    "SiteService",
    "Situation",
    "Submitted",
    "TalksRound",
    "TalksService",
    "Tile",
    "TransparencyLog",
    "Witness",
    "build_report",
    "check_passphrase",
    "create_backup",
    "day_of",
    "export_bundle",
    "init_node",
    "key_is_encrypted",
    "record_audit",
    "report_csv",
    "report_html",
    "report_pdf",
    "report_png",
    "require",
    "restore_backup",
    "restored",
    "schema_state",
    "server_context",
    "upgrade_schema",
    "verify_bundle",
    "waits_for",
    "write_private",
]
