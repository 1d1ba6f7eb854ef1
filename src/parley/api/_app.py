from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

import parley
from parley.services import Node
from parley.web import install_console

from ._access import AccessLog
from ._admin_routes import install_denial_audit
from ._admin_routes import router as admin_router
from ._agreement_routes import router as agreement_router
from ._allegation_routes import EVIDENCE_PATH
from ._allegation_routes import federation_router as allegation_federation
from ._allegation_routes import router as allegation_router
from ._contract import ContractApi
from ._exchange_routes import router as exchange_router
from ._federation import router as federation_router
from ._input import parse_count
from ._metrics import RequestMetrics, install_metrics, metrics_router
from ._metrics import router as health_router
from ._preauth import PreAuthLimit
from ._problems import install_problem_handlers, problem
from ._routes import router
from ._stream import router as stream_router
from ._talks_routes import router as talks_router

__all__ = ["create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def create_app(node: Node, *, run_background_tasks: bool = True) -> FastAPI:
    """The HTTP API of one node. Tests pass ``run_background_tasks=False`` and drive the clock."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if run_background_tasks:
            task = asyncio.create_task(node.run())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = ContractApi(
        title=f"Parley node {node.party}",
        version=parley.__version__,
        description="Signed, durable hotline between parties. Errors are RFC 9457 problems.",
        lifespan=lifespan,
    )
    app.state.node = node
    install_problem_handlers(app)
    install_denial_audit(app)
    app.include_router(router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(admin_router)
    app.include_router(agreement_router)
    app.include_router(exchange_router)
    app.include_router(stream_router)
    app.include_router(talks_router)
    app.include_router(federation_router)
    app.include_router(allegation_router)
    app.include_router(allegation_federation)
    install_console(app)
    app.add_middleware(
        BodyLimit,
        limit=node.settings.max_request_bytes,
        federation_limit=node.settings.max_federation_bytes,
        evidence_limit=node.settings.max_evidence_bytes,
    )
    app.add_middleware(PreAuthLimit, node=node)
    app.state.metrics = install_metrics(node)
    # Outermost: it logs and counts the refusals of the others too.
    app.add_middleware(AccessLog, observe=RequestMetrics(app.state.metrics))
    return app


class BodyLimit:
    """Refuse a request body over the limit before any of it is parsed or stored."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        limit: int,
        federation_limit: int,
        evidence_limit: int,
    ) -> None:
        self.app = app
        self.limits = (limit, federation_limit)
        self.evidence_limit = evidence_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits[1 if scope["path"].startswith("/federation/") else 0]
        if scope["method"] == "POST" and scope["path"] == EVIDENCE_PATH:
            limit = self.evidence_limit  # a file is refused by the service, naming its limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        size = None if declared is None else parse_count(declared.decode("latin-1"))
        if declared is not None and (size is None or size > limit):
            await self._refuse(scope, receive, send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(
            Request(scope),
            status=413,
            code="payload-too-large",
            title="Payload too large",
            detail=f"the request body is over {limit} bytes",
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
