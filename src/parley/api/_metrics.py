"""GET /metrics in the Prometheus text format, and the health answers of a node.

Each node has a registry of its own (several nodes may run in one process): request and
event counters are counted as they happen; everything else is read from the node when
scraped, so a scrape shows the node as it is and costs nothing between scrapes.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator, MutableMapping
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from parley.clock import to_ms
from parley.services import BusItem, Node
from parley.store import Distribution

from ._answers import LiveOut, ReadyOut
from ._contract import problems
from ._deps import NodeDep, client_address
from ._input import JsonRoute
from ._problems import problem

__all__ = ["RequestMetrics", "install_metrics", "metrics_router", "router"]

Scope = MutableMapping[str, Any]

# A client may send any method: the label takes these and "other", so it stays bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

router = APIRouter(prefix="/api/v1/health", route_class=JsonRoute, tags=["node"])
metrics_router = APIRouter()


@router.get("/live")
def live() -> LiveOut:
    """The process answers; nothing else is asked (not even the store)."""
    return LiveOut()


@router.get("/ready", response_model=ReadyOut, responses=problems(503))
def ready(node: NodeDep, request: Request) -> ReadyOut | Response:
    """Ready: the store answers, its writer runs and is not stuck, the schema is current and
    the background duties run. Otherwise 503, the detail saying why."""
    readiness = node.health.readiness()
    if not readiness.ready:
        return problem(
            request,
            status=503,
            code="not-ready",
            title="Not ready",
            detail="; ".join(readiness.reasons),
        )
    return ReadyOut.model_validate(readiness)


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(node: NodeDep, request: Request) -> Response:
    """With ``metrics_token`` set, only its bearer reads; unset, only loopback clients do."""
    token = node.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return problem(
                request,
                status=401,
                code="unauthorized",
                title="Unauthorized",
                detail="GET /metrics needs the node's metrics token",
            )
    elif not _loopback(client_address(request)):
        return problem(
            request,
            status=403,
            code="forbidden",
            title="Forbidden",
            detail="without a metrics_token, /metrics answers only loopback clients",
        )
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # "unknown": no address to trust
        return False


class RequestMetrics:
    """Count each HTTP request by its route's template (bounded), method and status; the
    access log hands it every request it answered (one wrapper of the answer for both)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._count = Counter(
            "parley_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "parley_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            registry=registry,
        )

    def __call__(self, scope: Scope, status: int, elapsed_s: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"] if scope["method"] in _METHODS else "other"
        self._latency.labels(route, method).observe(elapsed_s)
        self._count.labels(route, method, str(status)).inc()


def install_metrics(node: Node) -> CollectorRegistry:
    """The node's registry: counters of events as they are stored, the node read at scrape."""
    registry = CollectorRegistry(auto_describe=True)
    events = Counter(
        "parley_events",
        "Events stored, by direction (appended here or received from a peer) and event type",
        ["direction", "type"],
        registry=registry,
    )

    def counted(item: BusItem) -> None:
        if item.view is not None:
            own = item.view.event.author == node.party
            events.labels("appended" if own else "received", item.view.event.type).inc()

    node.bus.add_listener(counted)
    registry.register(_NodeCollector(node))
    return registry


class _NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        yield from self._store()
        yield from self._peers()
        yield from self._clocks()
        yield from self._duties()

    def _store(self) -> Iterator[Metric]:
        node = self._node
        stats = node.store.writer_stats
        yield _histogram(
            "parley_store_commit_batch_size", "Writes sharing one commit", stats.batch_sizes
        )
        yield _histogram(
            "parley_store_commit_seconds", "Time of one group commit", stats.commit_seconds
        )
        yield _gauge("parley_events_stored", "Events in the store", node.store.count_events())
        yield _gauge("parley_log_size", "Events in the transparency log", node.store.log_size())
        age = node.health.checkpoint_age_s()
        yield _gauge(
            "parley_checkpoint_age_seconds",
            "Age of the latest signed checkpoint (NaN: none yet)",
            float("nan") if age is None else age,
        )
        yield _gauge(
            "parley_deconfliction_index_size",
            "Activities and sites in the deconfliction index",
            node.deconfliction.indexed(),
        )
        yield _histogram(
            "parley_deconfliction_search_seconds",
            "Time of one search of the deconfliction index: new items or a question",
            node.deconfliction.search_seconds,
        )

    def _peers(self) -> Iterator[Metric]:
        node = self._node
        now_ms = to_ms(node.clock.now())
        state = GaugeMetricFamily(
            "parley_link_state", "1 for the state each peer's link is in", labels=["peer", "state"]
        )
        lag = GaugeMetricFamily(
            "parley_replication_lag_events",
            "Events stored here the peer's node lacks, by the heads it last told",
            labels=["peer"],
        )
        lag_s = GaugeMetricFamily(
            "parley_replication_lag_seconds",
            "While the peer lacks events: seconds since its node last answered; else 0",
            labels=["peer"],
        )
        links = {link.party: link for link in node.links.statuses()}
        for peer in (p.party for p in node.store.list_parties() if not p.is_self):
            link = links.get(peer)
            now_state = "unknown" if link is None else link.state
            for name in ("unknown", "up", "degraded", "down"):
                state.add_metric([peer, name], float(now_state == name))
            behind = node.replicator.lag(peer)
            if behind is not None:
                lag.add_metric([peer], behind)
                last_ok_ms = (link.last_ok_ms if link else None) or now_ms
                lag_s.add_metric([peer], (now_ms - last_ok_ms) / 1000 if behind else 0.0)
        yield from (state, lag, lag_s)

    def _clocks(self) -> Iterator[Metric]:
        health = self._node.health
        counts, overdue = health.running_clocks()
        pending = GaugeMetricFamily(
            "parley_pending_acks",
            "Events waiting for an ack or reply, by precedence and event type",
            labels=["precedence", "type"],
        )
        for (precedence, kind), count in sorted(counts.items()):
            pending.add_metric([precedence, kind], count)
        yield pending
        yield _gauge("parley_pending_acks_overdue", "Of them, past their deadline", overdue)
        alerts = GaugeMetricFamily("parley_alerts_open", "Open alerts, by kind", labels=["kind"])
        for kind, count in sorted(health.open_alerts().items()):
            alerts.add_metric([kind], count)
        yield alerts

    def _duties(self) -> Iterator[Metric]:
        passes = GaugeMetricFamily(
            "parley_duty_passes", "Passes of each background duty", labels=["duty"]
        )
        failures = GaugeMetricFamily(
            "parley_duty_failures", "Failed passes of each background duty", labels=["duty"]
        )
        for duty in self._node.duties():
            passes.add_metric([duty.name], duty.passes)
            failures.add_metric([duty.name], duty.failures)
        yield from (passes, failures)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _histogram(name: str, documentation: str, seen: Distribution) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*seen.bounds, float("inf")), seen.counts, strict=True):
        total += count
        buckets.append(("+Inf" if bound == float("inf") else str(bound), total))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=seen.total)
