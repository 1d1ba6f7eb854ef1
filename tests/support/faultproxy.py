"""A fault-injecting HTTP/1.1 reverse proxy for tests and soak runs between two nodes on loopback.

    with FaultProxy("http://127.0.0.1:8001", policy=FaultPolicy(drop=0.1, seed=7)) as proxy:
        peer_url = proxy.url          # give this to the other node instead of the real address
        proxy.partition()             # ... every connection now fails
        proxy.heal()

Design choice: raw asyncio TCP + h11, not uvicorn + Starlette
--------------------------------------------------------------
The proxy listens with ``asyncio.start_server`` and parses HTTP/1.1 itself with h11 (already
installed as a uvicorn dependency). An ASGI server only lets an application *answer*; it cannot
make the client see a dead connection. Owning the socket lets a partition look like a real
network failure: the connection is closed without a single response byte, so the client gets a
transport error (``httpx.TransportError``: "server disconnected without sending a response",
connection reset, ...) instead of a polite 503. It also lets :meth:`FaultProxy.partition` sever
the connections that are already open, in-flight requests included, as a cut cable would.

Behaviour, per request (one decision per request, drawn from ``random.Random(policy.seed)``;
with concurrent requests the draws follow arrival order):

* partition - checked when a connection is accepted and again when each request has been read:
  the connection is closed without a response. Setting a partitioning policy also cancels every
  open connection before :meth:`FaultProxy.set_policy` returns.
* drop      - nothing is forwarded; the client gets ``502`` with header ``x-fault: drop``.
* truncate  - the body is cut at a random byte (``0 <= cut < len(body)``, so strictly shorter;
  an empty body cannot be truncated) and forwarded with a matching Content-Length.
* delay     - ``uniform(*delay_s)`` seconds of sleep before forwarding.
* reorder   - the request is held until a request that arrived after it has been forwarded *and
  answered by upstream* (so upstream has certainly processed the later one first), or until
  ``max_hold_s`` has passed, whichever comes first.
* duplicate - the request is sent upstream twice, one after the other; the client gets the
  first answer once both have been answered (the second answer is discarded).

The faults combine in that order (truncate, delay, reorder, duplicate).

Forwarding keeps method, path, query string, headers and body. Hop-by-hop headers (Connection
and the headers it names, Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Proxy-*), Host,
Expect and Content-Length are not copied: httpx sets Host and Content-Length for the upstream
request, and the proxy does its own framing towards the client. Responses are relayed as
streamed raw bytes (Content-Encoding is preserved, Server-Sent Events work); the upstream
Content-Length is reused for the relayed raw body, otherwise the response is chunked. Errors
reaching upstream give ``502`` with header ``x-fault: upstream-error``.

Safety: the upstream must be ``http://`` on 127.0.0.1, localhost or ::1, and the proxy only
listens on 127.0.0.1 or ::1; anything else is a ValueError. Only origin-form request targets
(``/path?query``) are accepted, so the proxy cannot be used as a forward proxy, and the httpx
client ignores proxy environment variables and never follows redirects. Every loop is bounded
(requests per connection, bytes per request, I/O timeouts, hold and delay caps).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import itertools
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType, TracebackType
from typing import Self

import h11
import httpx

__all__ = ["Fault", "FaultPolicy", "FaultProxy", "ProxyStats"]

log = logging.getLogger(__name__)

UPSTREAM_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LISTEN_HOSTS = frozenset({"127.0.0.1", "::1"})
MAX_DELAY_S = 60.0
MAX_HOLD_S = 10.0
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_REQUESTS_PER_CONNECTION = 10_000
READ_CHUNK = 64 * 1024
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {b"host", b"content-length", b"expect"}

Headers = list[tuple[bytes, bytes]]
_Build = Callable[[], httpx.Request]


class Fault(enum.StrEnum):
    PASS = "pass"
    DROP = "drop"
    DELAY = "delay"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    TRUNCATE = "truncate"
    PARTITION = "partition"


@dataclass(frozen=True)
class FaultPolicy:
    """What the proxy does to each request; probabilities are in [0, 1]."""

    drop: float = 0.0  # forward nothing, answer 502 with x-fault: drop
    delay_s: tuple[float, float] = (0.0, 0.0)  # uniform random delay before forwarding
    duplicate: float = 0.0  # forward twice upstream, return the first answer
    reorder: float = 0.0  # hold until a later request has been forwarded (<= max_hold_s)
    truncate: float = 0.0  # forward a body cut at a random byte
    partition: bool = False  # close every connection without a response
    seed: int | None = None  # random.Random(seed) for reproducibility
    max_hold_s: float = 1.0  # bound on a reorder hold

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "truncate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:  # also rejects NaN
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")
        if len(self.delay_s) != 2 or not 0.0 <= self.delay_s[0] <= self.delay_s[1] <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be (low, high) with 0 <= low <= high <= {MAX_DELAY_S}")
        if not 0.0 < self.max_hold_s <= MAX_HOLD_S:
            raise ValueError(f"max_hold_s must be in (0, {MAX_HOLD_S}]")


@dataclass(frozen=True)
class ProxyStats:
    """A snapshot of the proxy's counters.

    ``requests`` counts complete requests read from clients, ``forwarded`` the requests sent
    upstream (a duplicated request counts twice). ``faults[Fault.PASS]`` counts requests forwarded
    untouched; a request can carry several faults (e.g. delay and duplicate), each counted.
    ``faults[Fault.PARTITION]`` counts connections or requests refused by a partition.
    """

    requests: int
    forwarded: int
    upstream_errors: int
    faults: Mapping[Fault, int]

    def __getitem__(self, fault: Fault) -> int:
        return self.faults.get(fault, 0)


@dataclass(frozen=True)
class _Plan:
    drop: bool
    truncate_at: int | None
    delay_s: float
    reorder: bool
    duplicate: bool
    max_hold_s: float


@dataclass(frozen=True)
class _Incoming:
    request: h11.Request
    body: bytes


class _BodyTooLarge(Exception):
    pass


def _check_upstream(upstream: str) -> str:
    try:
        url = httpx.URL(upstream)
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid upstream URL {upstream!r}") from exc
    if url.scheme != "http":
        raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
    if url.host not in UPSTREAM_HOSTS:
        raise ValueError(f"upstream must be on loopback {sorted(UPSTREAM_HOSTS)}, not {url.host!r}")
    if url.query or url.fragment or url.userinfo:
        raise ValueError(f"upstream must not carry a query, fragment or credentials: {upstream!r}")
    return str(url).rstrip("/")


def _forwarded_request_headers(raw: Headers) -> Headers:
    named_by_connection = _connection_tokens(raw)
    return [
        (name, value)
        for name, value in raw
        if name not in _NOT_FORWARDED and name not in named_by_connection
    ]


def _relayed_response_headers(raw: Headers, content_length: int | None) -> Headers:
    named_by_connection = _connection_tokens(raw)
    headers = [
        (name, value)
        for name, value in raw
        if name not in _HOP_BY_HOP and name != b"content-length" and name not in named_by_connection
    ]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return headers


def _connection_tokens(raw: Headers) -> frozenset[bytes]:
    return frozenset(
        token.strip()
        for name, value in raw
        if name == b"connection"
        for token in value.lower().split(b",")
        if token.strip()
    )


def _declared_length(raw: Headers) -> int | None:
    values = {value.strip() for name, value in raw if name == b"content-length"}
    if len(values) == 1:
        (value,) = values
        if value.isdigit():
            return int(value)
    return None


class FaultProxy:
    """A proxy from :attr:`url` to ``upstream`` that injects faults according to a policy."""

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        policy: FaultPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        if host not in LISTEN_HOSTS:
            raise ValueError(
                f"the proxy listens on loopback only {sorted(LISTEN_HOSTS)}, not {host!r}"
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port}")
        if not 0.0 < timeout <= 600.0:
            raise ValueError("timeout must be in (0, 600] seconds")
        self._upstream = _check_upstream(upstream)
        self._host = host
        self._port = port
        self._timeout = timeout
        # Guards the policy, its random generator and the counters.
        self._lock = threading.Lock()
        self._policy = policy or FaultPolicy()
        self._rng = random.Random(self._policy.seed)  # noqa: S311 - fault injection, not crypto
        self._requests = 0
        self._forwarded = 0
        self._upstream_errors = 0
        self._faults = dict.fromkeys(Fault, 0)
        # Guards the lifecycle fields below.
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._listening_port: int | None = None
        # Loop-thread only.
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[int, asyncio.Event] = {}
        self._sequence = itertools.count()
        # Number of requests held for reordering, readable from any thread.
        self._held_changed = threading.Condition()
        self._held_count = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def upstream(self) -> str:
        return self._upstream

    @property
    def url(self) -> str:
        port = self._listening_port
        if port is None:
            raise RuntimeError("the proxy is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}"

    @property
    def policy(self) -> FaultPolicy:
        with self._lock:
            return self._policy

    def set_policy(self, policy: FaultPolicy) -> None:
        """Replace the policy (and reseed its random generator) for the next request.

        A partitioning policy also closes every open connection before this returns.
        """
        with self._lock:
            self._policy = policy
            self._rng = random.Random(policy.seed)  # noqa: S311 - fault injection, not crypto
        if policy.partition:
            self._sever_connections()

    def partition(self) -> None:
        self.set_policy(dataclasses.replace(self.policy, partition=True))

    def heal(self) -> None:
        self.set_policy(dataclasses.replace(self.policy, partition=False))

    @property
    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(
                requests=self._requests,
                forwarded=self._forwarded,
                upstream_errors=self._upstream_errors,
                faults=MappingProxyType(dict(self._faults)),
            )

    def wait_held(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests are held for reordering; False on timeout."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: self._held_count >= count, timeout)

    def start(self) -> None:
        """Start serving in a background thread; return once the port is listening."""
        with self._state_lock:
            if self._thread is not None:
                raise RuntimeError("a FaultProxy can be started only once")
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(ready,), daemon=True, name=f"faultproxy->{self._upstream}"
            )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("the fault proxy did not start in time")
        if self._startup_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise RuntimeError("the fault proxy failed to start") from self._startup_error

    def stop(self) -> None:
        """Stop listening, close every connection and the upstream client; idempotent."""
        with self._state_lock:
            thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(stopping.set)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError("the fault proxy did not stop in time")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._listening_port is not None else "(not listening)"
        return f"<FaultProxy {where} -> {self._upstream} {self.policy!r}>"

    # -- counters -----------------------------------------------------------------------------

    def _count(
        self, *faults: Fault, requests: int = 0, forwarded: int = 0, upstream_errors: int = 0
    ) -> None:
        with self._lock:
            for fault in faults:
                self._faults[fault] += 1
            self._requests += requests
            self._forwarded += forwarded
            self._upstream_errors += upstream_errors

    def _partitioned(self) -> bool:
        with self._lock:
            return self._policy.partition

    def _plan(self, body_length: int) -> _Plan:
        with self._lock:
            policy, rng = self._policy, self._rng
            drop = rng.random() < policy.drop
            truncate = rng.random() < policy.truncate
            cut = rng.randrange(body_length) if truncate and body_length > 0 else None
            delay = rng.uniform(*policy.delay_s)
            reorder = rng.random() < policy.reorder
            duplicate = rng.random() < policy.duplicate
        return _Plan(
            drop=drop,
            truncate_at=cut,
            delay_s=delay,
            reorder=reorder,
            duplicate=duplicate,
            max_hold_s=policy.max_hold_s,
        )

    # -- event loop thread --------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # never let the thread die with an unhandled exception
            if ready.is_set():
                log.exception("fault proxy crashed")
            else:
                self._startup_error = exc
        finally:
            with self._state_lock:
                self._loop = None
                self._stopping = None
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        stopping = asyncio.Event()
        async with httpx.AsyncClient(
            timeout=self._timeout, trust_env=False, follow_redirects=False
        ) as client:
            self._client = client
            try:
                server = await asyncio.start_server(
                    self._on_connection, self._host, self._port, limit=MAX_HEADER_BYTES
                )
            except OSError as exc:
                self._startup_error = exc
                return
            try:
                self._listening_port = int(server.sockets[0].getsockname()[1])
                with self._state_lock:
                    self._loop = asyncio.get_running_loop()
                    self._stopping = stopping
                ready.set()
                await stopping.wait()
            finally:
                server.close()
                await self._cancel_connections()
                await server.wait_closed()

    def _sever_connections(self) -> None:
        with self._state_lock:
            loop = self._loop
        if loop is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(
                self._cancel_connections(only_if_partitioned=True), loop
            )
        except RuntimeError:  # the loop has just finished
            return
        if threading.current_thread() is not self._thread:
            with contextlib.suppress(TimeoutError, concurrent.futures.CancelledError):
                future.result(STOP_TIMEOUT_S)

    async def _cancel_connections(self, *, only_if_partitioned: bool = False) -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # let connections accepted just now register themselves
            if only_if_partitioned and not self._partitioned():
                return
            tasks = [task for task in self._tasks if task is not asyncio.current_task()]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), STOP_TIMEOUT_S
                )

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve_connection(reader, writer)
        except asyncio.CancelledError:
            # Severed by a partition or stop. Swallowed on purpose: this is the connection's
            # top-level task, and Python 3.11's start_server logs cancelled handler tasks as
            # errors (its done-callback calls task.exception() on them).
            log.debug("fault proxy connection severed")
        except (ConnectionError, TimeoutError, h11.ProtocolError, httpx.HTTPError) as exc:
            log.debug("fault proxy connection ended: %r", exc)
        except Exception:
            log.exception("fault proxy connection failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._tasks.discard(task)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._partitioned():
            self._count(Fault.PARTITION)
            return
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                incoming = await self._read_request(conn, reader, writer)
            except h11.RemoteProtocolError as exc:
                await self._reply(conn, writer, exc.error_status_hint, b"bad request\n", b"")
                return
            except _BodyTooLarge:
                await self._reply(conn, writer, 413, b"request body too large\n", b"")
                return
            if incoming is None:
                return
            if self._partitioned():
                self._count(Fault.PARTITION)
                return
            await self._handle(conn, writer, incoming)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Incoming | None:
        request: h11.Request | None = None
        body = bytearray()
        # Each read brings at least one byte (or ends the connection) and each Data event
        # carries at least one, so this bounds the loop without limiting slow senders.
        max_events = 2 * (MAX_BODY_BYTES + MAX_HEADER_BYTES) + 16
        async with asyncio.timeout(self._timeout):
            for _ in range(max_events):
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if conn.they_are_waiting_for_100_continue:
                        await self._send(
                            conn, writer, h11.InformationalResponse(status_code=100, headers=[])
                        )
                    conn.receive_data(await reader.read(READ_CHUNK))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_BODY_BYTES:
                        raise _BodyTooLarge
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    return _Incoming(request, bytes(body))
                else:  # ConnectionClosed, or anything unexpected
                    return None
        return None

    async def _handle(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, incoming: _Incoming
    ) -> None:
        request, body = incoming.request, incoming.body
        self._count(requests=1)
        target = request.target.decode("latin-1")
        if not target.startswith("/"):
            await self._reply(conn, writer, 400, b"only origin-form targets (/path?query)\n", b"")
            return
        plan = self._plan(len(body))
        sequence = next(self._sequence)
        if plan.drop:
            self._count(Fault.DROP)
            await self._reply(conn, writer, 502, b"dropped by the fault proxy\n", b"drop")
            return
        applied: list[Fault] = []
        if plan.truncate_at is not None:
            body = body[: plan.truncate_at]
            applied.append(Fault.TRUNCATE)
        if plan.delay_s > 0:
            applied.append(Fault.DELAY)
        if plan.reorder:
            applied.append(Fault.REORDER)
        if plan.duplicate:
            applied.append(Fault.DUPLICATE)
        self._count(*(applied or [Fault.PASS]))
        if plan.delay_s > 0:
            await asyncio.sleep(plan.delay_s)
        if plan.reorder:
            await self._hold(sequence, plan.max_hold_s)

        url = self._upstream + target
        headers = _forwarded_request_headers(list(request.headers))
        method = request.method.decode("ascii")

        def build() -> httpx.Request:
            assert self._client is not None
            return self._client.build_request(method, url, headers=headers, content=body)

        if plan.duplicate:
            await self._forward_twice(conn, writer, sequence, build)
        else:
            await self._forward(conn, writer, sequence, build)

    async def _hold(self, sequence: int, max_hold_s: float) -> None:
        released = asyncio.Event()
        self._held[sequence] = released
        self._set_held_count(len(self._held))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), max_hold_s)
        finally:
            del self._held[sequence]
            self._set_held_count(len(self._held))

    def _set_held_count(self, count: int) -> None:
        with self._held_changed:
            self._held_count = count
            self._held_changed.notify_all()

    def _release_held_before(self, sequence: int) -> None:
        for held_sequence, released in self._held.items():
            if held_sequence < sequence:
                released.set()

    async def _open_upstream(self, sequence: int, build: _Build) -> httpx.Response | None:
        assert self._client is not None
        self._count(forwarded=1)
        try:
            return await self._client.send(build(), stream=True)
        except httpx.HTTPError as exc:
            log.debug("fault proxy upstream error: %r", exc)
            self._count(upstream_errors=1)
            return None
        finally:
            self._release_held_before(sequence)

    async def _forward(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, sequence: int, build: _Build
    ) -> None:
        response = await self._open_upstream(sequence, build)
        if response is None:
            await self._reply(conn, writer, 502, b"upstream unreachable\n", b"upstream-error")
            return
        try:
            raw = list(response.headers.raw)
            await self._send(
                conn,
                writer,
                h11.Response(
                    status_code=response.status_code,
                    reason=response.reason_phrase.encode("latin-1"),
                    headers=_relayed_response_headers(raw, _declared_length(raw)),
                ),
            )
            async for chunk in response.aiter_raw():
                await self._send(conn, writer, h11.Data(data=chunk))
            await self._send(conn, writer, h11.EndOfMessage())
        finally:
            await response.aclose()

    async def _forward_twice(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, sequence: int, build: _Build
    ) -> None:
        response = await self._open_upstream(sequence, build)
        if response is None:
            await self._reply(conn, writer, 502, b"upstream unreachable\n", b"upstream-error")
            return
        try:
            chunks = [chunk async for chunk in response.aiter_raw()]
        finally:
            await response.aclose()
        duplicate = await self._open_upstream(sequence, build)
        if duplicate is not None:
            try:
                async for _ in duplicate.aiter_raw():
                    pass
            finally:
                await duplicate.aclose()
        content = b"".join(chunks)
        await self._send(
            conn,
            writer,
            h11.Response(
                status_code=response.status_code,
                reason=response.reason_phrase.encode("latin-1"),
                headers=_relayed_response_headers(list(response.headers.raw), len(content)),
            ),
        )
        await self._send(conn, writer, h11.Data(data=content))
        await self._send(conn, writer, h11.EndOfMessage())

    async def _reply(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        fault: bytes,
    ) -> None:
        if conn.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
            return  # a response has already started: closing the connection is all that's left
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if fault:
            headers.append((b"x-fault", fault))
        await self._send(
            conn,
            writer,
            h11.Response(
                status_code=status, headers=headers, reason=HTTPStatus(status).phrase.encode()
            ),
        )
        await self._send(conn, writer, h11.Data(data=body))
        await self._send(conn, writer, h11.EndOfMessage())

    @staticmethod
    async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
        data = conn.send(event)
        if data:
            writer.write(data)
            await writer.drain()
