from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from parley.clock import to_ms
from parley.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from parley.forms import SUPPORTED_LOCALES
from parley.protocol import validate_operator_name
from parley.store import OperatorRecord, Store, StoreTx, TokenRecord

from ._audit import audit_entry, record_audit, write_audited
from ._auth import CONSOLE, NEEDS_APPROVAL, Permission, Principal, Role, SessionCache, require
from ._context import NodeContext
from ._threads import Lane
from ._throttle import LoginThrottle

__all__ = ["IssuedToken", "OperatorService", "same_person"]

MIN_PASSWORD_LENGTH = 12
MAX_PERSON_LENGTH = 64


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
        self._sessions = SessionCache()

    async def add(
        self, username: str, role: str, password: str, *, person: str | None = None
    ) -> OperatorRecord:
        """An account made at the node's console by whoever holds its host: active at once.
        ``person`` (who is behind it) defaults to the username."""
        console = Principal(CONSOLE, Role.ADMIN, self._ctx.party)
        return await self._new(console, username, role, password, person or username)

    async def create(
        self, principal: Principal, username: str, role: str, password: str, person: str
    ) -> OperatorRecord:
        """An account made by an admin through the API: one that may speak for the party or
        run the node waits until a second person approves it (``approve``)."""
        require(principal, Permission.MANAGE_OPERATORS)
        return await self._new(principal, username, role, password, person, approval=True)

    async def _new(
        self,
        by: Principal,
        username: str,
        role: str,
        password: str,
        person: str,
        *,
        approval: bool = False,
    ) -> OperatorRecord:
        validate_operator_name(username, "username")
        if username == CONSOLE:
            raise InvalidInput.for_field("username", f"{CONSOLE} is the node's console")
        parsed_role = _parse_role(role)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput.for_field(
                "password", f"must have at least {MIN_PASSWORD_LENGTH} characters"
            )
        _check_person(person)
        hashed = await self._passwords.run(self._hasher.hash, password)
        now_ms = to_ms(self._ctx.clock.now())
        pending = approval and parsed_role in NEEDS_APPROVAL
        record = OperatorRecord(
            username,
            parsed_role.value,
            hashed,
            disabled=False,
            person=person,
            pending=pending,
            created_ms=now_ms,
            created_by=by.username,
        )
        entry = audit_entry(
            self._ctx, by, "operator.create", username, role=parsed_role.value, pending=pending
        )
        await write_audited(self._ctx, lambda tx: tx.insert_operator(record, now_ms), entry)
        return record

    async def login(self, username: str, password: str, *, address: str = "local") -> IssuedToken:
        """A bearer token for the right password; ``address`` is where the request came from,
        for the throttle and the audit trail."""
        try:
            attempt = self.throttle.admit(username, address)
        except TooManyRequests as exc:
            if self.throttle.first_refusal(username, address):
                await self._login_refused(username, address, "throttled", exc.retry_after_s)
            raise
        record = self._ctx.store.get_operator(username)
        stored_hash = self._dummy_hash if record is None else record.password_hash
        ok = await self._passwords.run(_verify, self._hasher, stored_hash, password)
        if record is None or not ok or record.disabled:
            await self._login_refused(username, address, "failed")
            raise AuthenticationFailed("wrong username or password, or the operator is disabled")
        self.throttle.succeeded(username, address, attempt)
        if record.pending:
            await self._login_refused(username, address, "pending")
            raise Forbidden(
                f"operator {username} waits for approval by a supervisor, or by an admin other "
                f"than {record.created_by}, before it may log in"
            )
        token = secrets.token_urlsafe(32)
        now = self._ctx.clock.now()
        expires_ms = to_ms(now + self._ttl)
        issued = TokenRecord(_token_hash(token), username, expires_ms, revoked=False)
        entry = audit_entry(self._ctx, username, "login", username, address=address)
        await write_audited(self._ctx, lambda tx: tx.insert_token(issued, to_ms(now)), entry)
        return IssuedToken(token, username, Role(record.role), expires_ms)

    async def _login_refused(
        self, username: str, address: str, outcome: str, retry_after_s: int | None = None
    ) -> None:
        details = {} if retry_after_s is None else {"retry_after_s": retry_after_s}
        await record_audit(
            self._ctx, username, "login", username, address=address, outcome=outcome, **details
        )

    def authenticate(self, token: str, *, address: str = "local") -> Principal:
        """The operator a bearer token stands for; ``address``: where its request came from."""
        digest = _token_hash(token)
        store = self._ctx.store
        session = self._sessions.read(
            digest, store.sessions_version(), lambda: store.get_session(digest)
        )
        if session is None:
            raise AuthenticationFailed("unknown bearer token")
        record, operator = session
        if record.revoked:
            raise AuthenticationFailed("the bearer token was revoked")
        if record.expires_ms <= to_ms(self._ctx.clock.now()):
            raise AuthenticationFailed("the bearer token has expired; log in again")
        if operator.disabled:
            raise AuthenticationFailed(f"operator {record.username} is disabled")
        return Principal(
            operator.username, Role(operator.role), self._ctx.party, operator.lang, address
        )

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

    async def approve(self, principal: Principal, username: str) -> OperatorRecord:
        """A second person lets a pending account log in: a supervisor, or an admin who is
        not the person who made it."""
        require(principal, Permission.APPROVE_OPERATORS)
        record = self._operator(username)
        if not record.pending or record.disabled:
            state = "disabled" if record.disabled else "not waiting for approval"
            raise Conflict(f"operator {username} is {state}")
        if same_person(self._ctx.store, principal.username, record.created_by or ""):
            await record_audit(self._ctx, principal, "operator.approve", username, outcome="denied")
            raise Forbidden(
                f"{principal.username} made operator {username}: a second person must approve it"
            )
        now_ms = to_ms(self._ctx.clock.now())
        entry = audit_entry(self._ctx, principal, "operator.approve", username, role=record.role)

        def apply(tx: StoreTx) -> None:
            if not tx.approve_operator(username, principal.username, now_ms):
                raise Conflict(f"operator {username} was approved or disabled meanwhile")

        await write_audited(self._ctx, apply, entry)
        return self._operator(username)

    async def disable(self, principal: Principal, username: str) -> None:
        """Disable an operator and revoke every token it holds: never one's own account, nor
        the last active admin, which would leave the node with nobody to run it."""
        require(principal, Permission.MANAGE_OPERATORS)
        record = self._operator(username)
        if username == principal.username:
            raise Conflict(f"{username} cannot disable its own account: another admin may")
        if _is_active_admin(record) and not any(
            _is_active_admin(other) and other.username != username
            for other in self._ctx.store.list_operators()
        ):
            raise Conflict(
                f"{username} is the last active admin of this node: approve or add another "
                "admin before disabling it"
            )
        now_ms = to_ms(self._ctx.clock.now())
        entry = audit_entry(self._ctx, principal, "operator.disable", username)

        def apply(tx: StoreTx) -> None:
            if not tx.set_operator_disabled(username, True, by=principal.username, at_ms=now_ms):
                raise NotFound(f"no operator named {username}")
            tx.revoke_tokens(username=username)

        await write_audited(self._ctx, apply, entry)

    def _operator(self, username: str) -> OperatorRecord:
        record = self._ctx.store.get_operator(username)
        if record is None:
            raise NotFound(f"no operator named {username}")
        return record


def same_person(store: Store, first: str, second: str) -> bool:
    """Whether two operator names are one person: the same name, or accounts naming the same
    person (a name with no account, such as the console's, is a person of its own)."""
    return first == second or _person(store, first) == _person(store, second)


def _person(store: Store, username: str) -> str:
    record = store.get_operator(username)
    return username if record is None else record.person


def _is_active_admin(record: OperatorRecord) -> bool:
    return record.role == Role.ADMIN.value and not (record.disabled or record.pending)


def _parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput.for_field("role", f"must be one of {choices}") from exc


def _check_person(person: str) -> None:
    if not person.strip() or len(person) > MAX_PERSON_LENGTH or not person.isprintable():
        raise InvalidInput.for_field(
            "person",
            f"must name who is behind the account in 1 to {MAX_PERSON_LENGTH} printable characters",
        )


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
