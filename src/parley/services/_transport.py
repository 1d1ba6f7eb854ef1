"""The peer transport seam: signed HTTP requests to another party's node."""

from __future__ import annotations

import json
import secrets
import ssl
from typing import Any, Protocol

import httpx

from parley.clock import to_ms
from parley.errors import PeerRefused, PeerUnreachable
from parley.protocol import sign_request

from ._context import NodeContext
from ._tls import http_allowed

__all__ = ["HttpPeerTransport", "PeerTransport"]


class PeerTransport(Protocol):
    async def call(self, peer: str, method: str, path: str, payload: Any | None = None) -> Any:
        """Send a signed request to ``peer``; its JSON answer, or PeerUnreachable/PeerRefused."""
        ...

    async def close(self) -> None: ...


class HttpPeerTransport:
    """Tries each of a peer's URLs in order (direct link first, then other paths)."""

    def __init__(
        self,
        ctx: NodeContext,
        timeout_s: float,
        client: httpx.AsyncClient | None = None,
        *,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """``verify``: whom this node trusts in a peer's certificate, and the certificate it
        presents (see ``peer_context``); None: the defaults of httpx."""
        self._ctx = ctx
        # trust_env off: federation traffic never goes through a proxy from the environment.
        self._client = client or httpx.AsyncClient(
            timeout=timeout_s, trust_env=False, verify=verify or True
        )

    async def call(self, peer: str, method: str, path: str, payload: Any | None = None) -> Any:
        urls = self._ctx.store.peer_urls(peer)
        if not urls:
            raise PeerUnreachable(f"no URL is known for {peer}")
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        failures = []
        allow_http = self._ctx.settings.allow_http_peers
        for base in urls:
            if not http_allowed(base, allow_http=allow_http):  # set before http was refused
                failures.append(f"{base}: plain http to another host (allow_http_peers is off)")
                continue
            try:
                return await self._send(peer, base, method, path, body)
            except httpx.HTTPError as exc:
                failures.append(f"{base}: {_failure(exc)}")
        raise PeerUnreachable(f"{peer} unreachable: {'; '.join(failures)}")

    async def _send(self, peer: str, base: str, method: str, path: str, body: bytes) -> Any:
        signature = sign_request(
            self._ctx.signer,
            method=method,
            target=path,
            body=body,
            sender=self._ctx.party,
            receiver=peer,
            timestamp_ms=to_ms(self._ctx.clock.now()),
            nonce=secrets.token_hex(12),
        )
        headers = {**signature.headers(), "content-type": "application/json"}
        url = base.rstrip("/") + path
        async with self._client.stream(method, url, content=body, headers=headers) as response:
            if response.status_code >= 500:
                raise httpx.HTTPStatusError(
                    "server error", request=response.request, response=response
                )
            raw = await self._read_capped(peer, response)
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise httpx.DecodingError("answer is not JSON") from exc
        if response.status_code >= 400:
            detail = answer.get("detail", "") if isinstance(answer, dict) else ""
            raise PeerRefused(
                f"{peer} refused {method} {path}: {response.status_code} {detail}",
                response.status_code,
            )
        return answer

    async def _read_capped(self, peer: str, response: httpx.Response) -> bytes:
        """The answer's body, read in a stream: a peer must not make this node hold any size."""
        cap = self._ctx.settings.max_peer_answer_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise PeerUnreachable(
                    f"{peer}'s answer is larger than max_peer_answer_bytes ({cap} bytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        await self._client.aclose()


def _failure(exc: httpx.HTTPError) -> str:
    """What failed, in a few words; a TLS failure says why, as an operator must fix it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"{type(exc).__name__}: TLS certificate not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"{type(exc).__name__}: TLS failed ({cause.reason or cause})"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__
