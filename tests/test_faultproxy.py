"""The fault-injecting proxy between two nodes, against a tiny echoing upstream on loopback."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.faultproxy import Fault, FaultPolicy, FaultProxy

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
GZIPPED = gzip.compress(b"compressed on purpose " * 20)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]


class Upstream:
    """A Starlette app that records every request and echoes it back as JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/gzip", self.gzipped),
                Route("/stream", self.stream),
                Route("/{path:path}", self.echo, methods=METHODS),
            ]
        )

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self._seen.append(
                Seen(
                    request.method, request.url.path, request.url.query, body, dict(request.headers)
                )
            )
            number = len(self._seen)
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "body": body.decode("latin-1"),
                "number": number,
            },
            status_code=int(request.query_params.get("status", "200")),
            headers={"x-upstream": "echo", "set-cookie": "a=1"},
        )

    async def gzipped(self, request: Request) -> Response:
        return Response(GZIPPED, media_type="text/plain", headers={"content-encoding": "gzip"})

    async def stream(self, request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            for number in range(3):
                yield f"data: {number}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def upstream_server() -> Iterator[Upstream]:
    upstream = Upstream()
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
    # and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    upstream.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(
            upstream.app, log_level="warning", lifespan="off", loop="asyncio", http="h11", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "upstream did not start"
        time.sleep(0.01)
    yield upstream
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def upstream(upstream_server: Upstream) -> Upstream:
    upstream_server.reset()
    return upstream_server


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url) as proxy:
        yield proxy


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=5, trust_env=False) as client:
        yield client


def test_pass_through_keeps_method_path_query_headers_body_and_status(upstream, proxy, client):
    answer = client.put(
        "/federation/v1/events?after=a%2Fb&status=201",
        content=b"\x00\xffhi",
        headers={"x-parley-sig": "abc", "content-type": "application/json"},
    )
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-upstream"] == "echo"
    assert answer.headers["set-cookie"] == "a=1"
    assert answer.json() == {
        "method": "PUT",
        "path": "/federation/v1/events",
        "query": "after=a%2Fb&status=201",
        "body": "\x00\xffhi",
        "number": 1,
    }
    [seen] = upstream.seen
    assert seen.body == b"\x00\xffhi"
    assert seen.headers["x-parley-sig"] == "abc"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == "4"
    assert proxy.stats.requests == 1
    assert proxy.stats.forwarded == 1
    assert proxy.stats[Fault.PASS] == 1


def test_pass_through_relays_encoded_and_streamed_bodies_unchanged(client):
    raw = client.get("/gzip", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == gzip.decompress(GZIPPED)
    with client.stream("GET", "/stream") as streamed:
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.read() == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


def test_keep_alive_connection_serves_many_requests(upstream, client):
    for number in range(1, 6):
        assert client.get("/ping").json()["number"] == number
    assert len(upstream.seen) == 5


def test_drop_answers_502_without_reaching_upstream(upstream, proxy, client):
    proxy.set_policy(FaultPolicy(drop=1.0))
    answer = client.post("/federation/v1/events", json={"n": 1})
    assert answer.status_code == 502
    assert answer.headers["x-fault"] == "drop"
    assert upstream.seen == []
    assert proxy.stats[Fault.DROP] == 1
    assert proxy.stats.forwarded == 0


def test_delay_holds_each_request_at_least_the_delay(upstream, proxy, client):
    proxy.set_policy(FaultPolicy(delay_s=(0.2, 0.25)))
    started = time.monotonic()
    assert client.get("/slow").status_code == 200
    assert time.monotonic() - started >= 0.2
    assert len(upstream.seen) == 1
    assert proxy.stats[Fault.DELAY] == 1


def test_duplicate_sends_the_request_upstream_twice_and_returns_the_first_answer(
    upstream, proxy, client
):
    proxy.set_policy(FaultPolicy(duplicate=1.0))
    answer = client.post("/federation/v1/events", content=b"once")
    assert answer.status_code == 200
    assert answer.json()["number"] == 1
    assert [seen.body for seen in upstream.seen] == [b"once", b"once"]
    assert proxy.stats.requests == 1
    assert proxy.stats.forwarded == 2
    assert proxy.stats[Fault.DUPLICATE] == 1


def test_truncate_forwards_a_strictly_shorter_prefix_of_the_body(upstream, proxy, client):
    body = bytes(range(256)) * 4
    proxy.set_policy(FaultPolicy(truncate=1.0, seed=3))
    for _ in range(5):
        client.post("/federation/v1/events", content=body)
    assert len(upstream.seen) == 5
    for seen in upstream.seen:
        assert len(seen.body) < len(body)
        assert body.startswith(seen.body)
        assert seen.headers["content-length"] == str(len(seen.body))
    assert proxy.stats[Fault.TRUNCATE] == 5


def test_reorder_lets_a_later_request_reach_upstream_first(upstream, proxy):
    proxy.set_policy(FaultPolicy(reorder=1.0, max_hold_s=5.0))
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(
            httpx.post, f"{proxy.url}/first", content=b"1", timeout=10, trust_env=False
        )
        assert proxy.wait_held(1, timeout=5)
        proxy.set_policy(FaultPolicy())
        started = time.monotonic()
        second = httpx.post(f"{proxy.url}/second", content=b"2", timeout=10, trust_env=False)
        assert first.result(timeout=10).status_code == 200
    assert second.status_code == 200
    assert time.monotonic() - started < 2.0  # released by the second, not by the 5 s bound
    assert [seen.path for seen in upstream.seen] == ["/second", "/first"]
    assert proxy.stats[Fault.REORDER] == 1


def test_reorder_hold_is_bounded_when_no_request_follows(upstream, proxy, client):
    proxy.set_policy(FaultPolicy(reorder=1.0, max_hold_s=0.2))
    started = time.monotonic()
    assert client.get("/alone").status_code == 200
    assert 0.2 <= time.monotonic() - started < 2.0
    assert len(upstream.seen) == 1


def test_partition_fails_the_connection_until_healed(upstream, proxy, client):
    assert client.get("/before").status_code == 200  # leaves a keep-alive connection open
    proxy.partition()
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            client.get("/during")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proxy.url}/fresh", timeout=5, trust_env=False)
    assert [seen.path for seen in upstream.seen] == ["/before"]
    assert proxy.stats[Fault.PARTITION] >= 3
    proxy.heal()
    assert client.get("/after").status_code == 200
    assert [seen.path for seen in upstream.seen] == ["/before", "/after"]


def test_partition_severs_a_request_already_in_flight(upstream, proxy):
    proxy.set_policy(FaultPolicy(reorder=1.0, max_hold_s=5.0))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(httpx.get, f"{proxy.url}/held", timeout=10, trust_env=False)
        assert proxy.wait_held(1, timeout=5)
        started = time.monotonic()
        proxy.partition()
        with pytest.raises(httpx.TransportError):
            pending.result(timeout=10)
    assert time.monotonic() - started < 2.0
    assert upstream.seen == []


def test_upstream_down_answers_502(upstream):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with FaultProxy(f"http://127.0.0.1:{closed_port}", timeout=2) as proxy:
        answer = httpx.get(f"{proxy.url}/x", timeout=5, trust_env=False)
        assert proxy.stats.upstream_errors == 1
    assert answer.status_code == 502
    assert answer.headers["x-fault"] == "upstream-error"


def test_absolute_form_target_is_refused_so_the_proxy_is_no_forward_proxy(upstream, proxy):
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        for _ in range(100):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert upstream.seen == []


@pytest.mark.parametrize(
    "upstream_url",
    [
        "http://10.0.0.1:8000",
        "http://example.com",
        "http://0.0.0.0:8000",
        "http://127.0.0.2:8000",
        "https://127.0.0.1:8000",
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1:8000",
        "not a url",
    ],
)
def test_non_loopback_or_odd_upstream_is_refused(upstream_url):
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy(upstream_url)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.1", "localhost"])
def test_proxy_listens_on_loopback_only(host):
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://127.0.0.1:8000", host=host)


@pytest.mark.parametrize(
    "policy",
    [
        {"drop": 1.5},
        {"duplicate": -0.1},
        {"reorder": float("nan")},
        {"truncate": 2},
        {"delay_s": (0.5, 0.1)},
        {"delay_s": (-1.0, 0.0)},
        {"max_hold_s": 0},
    ],
)
def test_policy_refuses_out_of_range_values(policy):
    with pytest.raises(ValueError, match="must"):
        FaultPolicy(**policy)


def test_same_seed_gives_the_same_faults(upstream):
    outcomes = []
    for _ in range(2):
        with (
            FaultProxy(upstream.url, policy=FaultPolicy(drop=0.5, seed=42)) as proxy,
            httpx.Client(base_url=proxy.url, timeout=5, trust_env=False) as client,
        ):
            outcomes.append([client.get("/x").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert {200, 502} == set(outcomes[0])


def test_stopped_proxy_refuses_connections(upstream):
    with FaultProxy(upstream.url) as proxy:
        url = proxy.url
        assert httpx.get(f"{url}/x", timeout=5, trust_env=False).status_code == 200
    proxy.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/x", timeout=5, trust_env=False)
