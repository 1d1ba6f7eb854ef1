"""A node restored from a backup rejoins its peers before it signs again.

Its copy of the record may end before events it signed after the backup; its peers hold them
(they are self-certifying, so any member may serve them). The node asks every peer it can
call for its heads and pulls what it lacks, its own chains included, each event verified by
its signature and chain as a peer's are. Its next event then follows the highest seq it ever
used that reached a peer, and no peer sees a fork.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from parley.errors import Conflict, ParleyError

from ._audit import record_audit
from ._auth import CONSOLE
from ._context import NodeContext
from ._replicator import Replicator
from ._restored import clear_restored, restored

__all__ = ["Rejoined", "rejoin"]


@dataclass(frozen=True)
class Rejoined:
    answered: list[str]
    unreachable: dict[str, str]  # peer -> why
    pulled: int  # events stored, this node's own and others'
    own_heads: dict[str, int]  # per channel, the highest seq this node signed, now
    forced: bool


async def rejoin(
    ctx: NodeContext, replicator: Replicator, data_dir: Path, *, force: bool
) -> Rejoined:
    """Take back from every peer what it holds of this node's record, then clear the restore
    mark. Refused (Conflict, nothing cleared) while a peer with a URL did not answer or holds
    more of this node's own chain than it could take back, unless ``force``."""
    if restored(data_dir) is None:
        raise Conflict(f"{data_dir} was not restored from a backup: it has nothing to rejoin")
    before = ctx.store.count_events()
    peers = sorted(
        p.party for p in ctx.store.list_parties() if not p.is_self and ctx.store.peer_urls(p.party)
    )
    answered: list[str] = []
    unreachable: dict[str, str] = {}
    behind: list[str] = []
    for peer in peers:
        try:
            heads = await replicator.rejoin(peer)
        except ParleyError as exc:
            unreachable[peer] = exc.detail
            continue
        answered.append(peer)
        for channel, authors in sorted(heads.items()):
            held = ctx.store.channel_heads(channel).get(ctx.party, 0)
            if authors.get(ctx.party, 0) > held:
                behind.append(f"{channel} ({peer} holds seq {authors[ctx.party]}, here {held})")
    reason = _refusal(peers, unreachable, behind)
    if reason and not force:
        raise Conflict(
            f"not rejoined: {reason}; this node signs nothing until it is (check with the "
            "peers' operators, then 'parley node rejoin --force')"
        )
    own = {
        record.id: head
        for record in ctx.store.list_channels(ctx.party)
        if (head := ctx.store.channel_heads(record.id).get(ctx.party, 0))
    }
    done = Rejoined(answered, unreachable, ctx.store.count_events() - before, own, bool(reason))
    await record_audit(
        ctx,
        CONSOLE,
        "node.rejoined",
        ctx.party,
        answered=answered,
        unreachable=sorted(unreachable),
        pulled=done.pulled,
        forced=done.forced,
    )
    clear_restored(data_dir)
    return done


def _refusal(peers: list[str], unreachable: dict[str, str], behind: list[str]) -> str:
    if not peers:
        return "no peer has a URL to ask ('parley peer set-urls')"
    if unreachable:
        return "; ".join(f"{peer} did not answer: {why}" for peer, why in unreachable.items())
    if behind:
        return "its own chain could not be taken back in " + ", ".join(behind)
    return ""
