from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from parley.clock import to_ms
from parley.errors import AuthenticationFailed, InvalidInput, NotFound, TooManyRequests
from parley.forms import SUPPORTED_LOCALES
from parley.protocol import validate_operator_name
from parley.store import OperatorRecord, StoreTx, TokenRecord

from ._audit import AUDIT_LOGGER
from ._auth import Permission, Principal, Role, require
from ._context import NodeContext
from ._threads import Lane
from ._throttle import LoginThrottle

__all__ = ["IssuedToken", "OperatorService"]

MIN_PASSWORD_LENGTH = 12
# Who logged in, who failed and who was throttled, from where; never a password.
_audit = logging.getLogger(AUDIT_LOGGER)


class IssuedToken:
    def __init__(self, token: str, username: str, role: Role, expires_ms: int) -> None:
        self.token = token
        self.username = username
        self.role = role
        self.expires_ms = expires_ms


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class OperatorService:
    def __init__(self, ctx: NodeContext, hasher: PasswordHasher) -> None:
        self._ctx = ctx
        self._ttl = timedelta(seconds=ctx.settings.token_ttl_s)
        self._hasher = hasher
        # Verified against when the username is unknown, so timing does not tell who exists.
        self._dummy_hash = hasher.hash("parley-no-such-operator")
        self._passwords = Lane("passwords", ctx.settings.password_workers, nice=10)
        self.throttle = LoginThrottle(ctx.clock, ctx.settings)

    async def add(self, username: str, role: str, password: str) -> OperatorRecord:
        validate_operator_name(username, "username")
        try:
            parsed_role = Role(role)
        except ValueError as exc:
            choices = ", ".join(r.value for r in Role)
            raise InvalidInput.for_field("role", f"must be one of {choices}") from exc
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput.for_field(
                "password", f"must have at least {MIN_PASSWORD_LENGTH} characters"
            )
        hashed = await self._passwords.run(self._hasher.hash, password)
        record = OperatorRecord(username, parsed_role.value, hashed, disabled=False)
        now_ms = to_ms(self._ctx.clock.now())
        await self._ctx.store.write(lambda tx: tx.insert_operator(record, now_ms))
        return record

    async def login(self, username: str, password: str, *, address: str = "local") -> IssuedToken:
        """A bearer token for the right password; ``address`` is where the request came from,
        for the throttle and the audit log."""
        try:
            attempt = self.throttle.admit(username, address)
        except TooManyRequests as exc:
            _audit.warning(
                "login throttled: username=%r address=%r retry_after_s=%d",
                username,
                address,
                exc.retry_after_s,
            )
            raise
        record = self._ctx.store.get_operator(username)
        stored_hash = self._dummy_hash if record is None else record.password_hash
        ok = await self._passwords.run(_verify, self._hasher, stored_hash, password)
        if record is None or not ok or record.disabled:
            _audit.warning("login failed: username=%r address=%r", username, address)
            raise AuthenticationFailed("wrong username or password, or the operator is disabled")
        self.throttle.succeeded(username, address, attempt)
        _audit.info("login succeeded: username=%r address=%r", username, address)
        token = secrets.token_urlsafe(32)
        now = self._ctx.clock.now()
        expires_ms = to_ms(now + self._ttl)
        issued = TokenRecord(_token_hash(token), username, expires_ms, revoked=False)
        await self._ctx.store.write(lambda tx: tx.insert_token(issued, to_ms(now)))
        return IssuedToken(token, username, Role(record.role), expires_ms)

    def authenticate(self, token: str) -> Principal:
        session = self._ctx.store.get_session(_token_hash(token))
        if session is None:
            raise AuthenticationFailed("unknown bearer token")
        record, operator = session
        if record.revoked:
            raise AuthenticationFailed("the bearer token was revoked")
        if record.expires_ms <= to_ms(self._ctx.clock.now()):
            raise AuthenticationFailed("the bearer token has expired; log in again")
        if operator.disabled:
            raise AuthenticationFailed(f"operator {record.username} is disabled")
        return Principal(operator.username, Role(operator.role), self._ctx.party, operator.lang)

    async def set_language(self, principal: Principal, lang: str) -> None:
        """The language this operator reads rendered notifications in: ar, en, ru or uk."""
        if lang not in SUPPORTED_LOCALES:
            raise InvalidInput.for_field("lang", f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        await self._ctx.store.write(lambda tx: tx.set_operator_language(principal.username, lang))

    async def logout(self, token: str) -> None:
        digest = _token_hash(token)
        await self._ctx.store.write(lambda tx: tx.revoke_tokens(token_hash=digest))

    def list_operators(self, principal: Principal) -> list[OperatorRecord]:
        require(principal, Permission.MANAGE_OPERATORS)
        return self._ctx.store.list_operators()

    async def create(
        self, principal: Principal, username: str, role: str, password: str
    ) -> OperatorRecord:
        require(principal, Permission.MANAGE_OPERATORS)
        return await self.add(username, role, password)

    async def disable(self, principal: Principal, username: str) -> None:
        """Disable an operator and revoke every token it holds."""
        require(principal, Permission.MANAGE_OPERATORS)

        def apply(tx: StoreTx) -> None:
            if not tx.set_operator_disabled(username, True):
                raise NotFound(f"no operator named {username}")
            tx.revoke_tokens(username=username)

        await self._ctx.store.write(apply)


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
