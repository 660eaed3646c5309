"""Dashboard accounts: scrypt password hashes, login throttling, database sessions.

Passwords are hashed with the standard library's scrypt (salted, memory-hard); the
stored string carries its parameters so they can be raised later without breaking old
hashes. A session is a random token in an HttpOnly cookie whose SHA-256 alone is
stored, so a leaked database does not log anybody in; logging out deletes the row.
Five wrong passwords for one username lock it for five minutes (per process), which is
what keeps a password guesser slow without locking real users out for long.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from bot.core.viewer import Viewer
from bot.storage.db import Database
from bot.storage.models import AdminAccount, AdminSession, Role, RoleGrant, User, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_HOURS = 12
MAX_FAILURES, LOCK_SECONDS = 5, 300
MIN_PASSWORD = 8
DASHBOARD_ROLES = frozenset({Role.ADMIN, Role.SECRETARY})


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DECOY = hash_password(secrets.token_hex(8))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Operator:
    """Who is looking at the dashboard, and what they may see."""

    account_id: int
    username: str
    name: str
    viewer: Viewer

    @property
    def is_admin(self) -> bool:
        return self.viewer.has_role(Role.ADMIN)

    @property
    def compound_ids(self) -> set[int] | None:
        """None: every compound (a county admin)."""
        if self.is_admin:
            return None
        return {
            g.compound_id
            for g in self.viewer.grants
            if g.role in DASHBOARD_ROLES and g.compound_id is not None
        }


class LoginError(ValueError):
    pass


class DashboardAuth:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    async def create_account(self, username: str, password: str, user_id: int) -> None:
        """An account for a staff member who may use the dashboard (secretary, admin)."""
        if len(password) < MIN_PASSWORD:
            raise LoginError(f"the password needs at least {MIN_PASSWORD} characters")
        async with self.db.transaction() as session:
            roles = set(
                await session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == user_id))
            )
            if not roles & {r.value for r in DASHBOARD_ROLES}:
                raise LoginError("only secretaries and admins may use the dashboard")
            account = await session.scalar(
                select(AdminAccount).where(AdminAccount.username == username)
            )
            if account is None:
                session.add(
                    AdminAccount(
                        username=username, password_hash=hash_password(password), user_id=user_id
                    )
                )
            else:
                account.password_hash = hash_password(password)
                account.user_id = user_id
                await session.execute(
                    delete(AdminSession).where(AdminSession.account_id == account.id)
                )

    def locked(self, username: str) -> bool:
        failures = self._failures[username]
        while failures and failures[0] < time.monotonic() - LOCK_SECONDS:
            failures.popleft()
        return len(failures) >= MAX_FAILURES

    async def login(self, username: str, password: str) -> str | None:
        """A new session token, or None (wrong name or password, or locked). The hash is
        checked in a thread, outside any transaction: scrypt is tens of milliseconds of
        CPU, which the event loop and the database's writer should not wait for."""
        if self.locked(username):
            return None
        async with self.db.transaction() as session:
            account = await session.scalar(
                select(AdminAccount).where(AdminAccount.username == username)
            )
        # An unknown name costs the same hashing time as a known one.
        stored = account.password_hash if account else _DECOY
        if not await asyncio.to_thread(verify_password, password, stored) or account is None:
            self._failures[username].append(time.monotonic())
            return None
        self._failures.pop(username, None)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                update(AdminAccount).where(AdminAccount.id == account.id).values(last_login_at=now)
            )
            session.add(
                AdminSession(
                    token_hash=_token_hash(token),
                    account_id=account.id,
                    created_at=now,
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                )
            )
        return token

    async def operator(self, token: str | None, now: datetime | None = None) -> Operator | None:
        if not token:
            return None
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(AdminAccount, User)
                    .join(AdminSession, AdminSession.account_id == AdminAccount.id)
                    .join(User, User.id == AdminAccount.user_id)
                    .where(
                        AdminSession.token_hash == _token_hash(token),
                        AdminSession.expires_at > now,
                    )
                )
            ).first()
            if row is None:
                return None
            account, user = row
            grants = list(
                await session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id))
            )
        viewer = Viewer(user=user, grants=grants)
        if not viewer.has_role(*DASHBOARD_ROLES):
            return None  # the role was taken away since the account was made
        return Operator(account.id, account.username, user.name, viewer)

    async def logout(self, token: str | None) -> None:
        if not token:
            return
        async with self.db.transaction() as session:
            await session.execute(
                delete(AdminSession).where(AdminSession.token_hash == _token_hash(token))
            )
