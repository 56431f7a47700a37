"""Editor accounts: scrypt password hashes, and a login rate limit kept in the database.

The one owner of the `editors` and `login_failures` tables: the web editor (log in, sessions)
and `actwatch editors` both go through this module.

There is no default account: `actwatch editors add NAME` makes the first one. A hash is stored
as `scrypt$n$r$p$salt$key` (base64), so the cost can be raised later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from actwatch.core.clock import utc
from actwatch.core.text import one_line
from actwatch.db.schema import editors, login_failures

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
# A name and address may fail this often in the window; an address across all names, more.
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)


class AccountError(Exception):
    pass


@dataclass(frozen=True)
class Editor:
    id: int
    name: str
    email: str | None
    created_at: datetime
    last_login_at: datetime | None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verified against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")


def clean_name(name: str) -> str:
    name = one_line(name)
    if not name or len(name) > 100:
        raise AccountError("a name has 1 to 100 characters")
    return name


def _editor(row: Any) -> Editor:
    return Editor(row.id, row.name, row.email, row.created_at, row.last_login_at)


def add_editor(
    engine: Engine,
    name: str,
    password: str,
    *,
    email: str | None = None,
    now: datetime | None = None,
) -> Editor:
    name = clean_name(name)
    check_new_password(password)
    moment = utc(now)
    try:
        with engine.begin() as connection:
            existing = connection.execute(
                select(editors.c.id).where(func.lower(editors.c.name) == name.lower())
            ).first()
            if existing is not None:
                raise AccountError(f"there is already an editor called {name!r}")
            connection.execute(
                insert(editors).values(
                    name=name, email=email, password_hash=hash_password(password), created_at=moment
                )
            )
    except IntegrityError:
        raise AccountError(f"there is already an editor called {name!r}") from None
    found = find_editor(engine, name)
    assert found is not None
    return found


def set_password(engine: Engine, name: str, password: str) -> None:
    check_new_password(password)
    with engine.begin() as connection:
        changed = connection.execute(
            update(editors)
            .where(func.lower(editors.c.name) == clean_name(name).lower())
            .values(password_hash=hash_password(password))
        ).rowcount
    if not changed:
        raise AccountError(f"no editor called {name!r}")


def remove_editor(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        removed = connection.execute(
            delete(editors).where(func.lower(editors.c.name) == clean_name(name).lower())
        ).rowcount
    if not removed:
        raise AccountError(f"no editor called {name!r}")


def find_editor(engine: Engine, name: str) -> Editor | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(editors).where(func.lower(editors.c.name) == one_line(name).lower())
        ).first()
    return _editor(row) if row else None


def get_editor(engine: Engine, editor_id: int) -> Editor | None:
    with engine.connect() as connection:
        row = connection.execute(select(editors).where(editors.c.id == editor_id)).first()
    return _editor(row) if row else None


def password_fingerprint(password_hash: str) -> str:
    """What a session remembers of the password: a new password (or a removed account) no
    longer matches it, which ends every session at once."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def session_editor(engine: Engine, editor_id: int) -> tuple[Editor, str] | None:
    """The editor with this id and their password's fingerprint, if the account exists."""
    with engine.connect() as connection:
        row = connection.execute(select(editors).where(editors.c.id == editor_id)).first()
    return (_editor(row), password_fingerprint(row.password_hash)) if row else None


def list_editors(engine: Engine) -> list[Editor]:
    with engine.connect() as connection:
        return [
            _editor(row) for row in connection.execute(select(editors).order_by(editors.c.name))
        ]


class RateLimited(AccountError):
    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, -(-int(retry_after.total_seconds()) // 60))
        super().__init__(f"too many failed logins: try again in {minutes} minute(s)")
        self.retry_after = retry_after


def prune_login_failures(engine: Engine, before: datetime) -> int:
    """Forget failed logins (names and addresses) from before `before`; how many."""
    with engine.begin() as connection:
        return int(
            connection.execute(delete(login_failures).where(login_failures.c.at < before)).rowcount
        )


def _check_rate(engine: Engine, name: str, address: str, now: datetime) -> None:
    since = now - FAILURE_WINDOW
    with engine.connect() as connection:
        for where, limit in (
            (
                (login_failures.c.name == name, login_failures.c.address == address),
                FAILURES_PER_NAME,
            ),
            ((login_failures.c.address == address,), FAILURES_PER_ADDRESS),
        ):
            count, oldest = connection.execute(
                select(func.count(), func.min(login_failures.c.at)).where(
                    *where, login_failures.c.at > since
                )
            ).one()
            if count >= limit:
                if isinstance(oldest, str):  # SQLite's min() hands back the stored text
                    oldest = datetime.fromisoformat(oldest)
                if oldest.tzinfo is None:
                    oldest = oldest.replace(tzinfo=UTC)
                raise RateLimited(oldest + FAILURE_WINDOW - now)


def authenticate(
    engine: Engine, name: str, password: str, address: str, *, now: datetime | None = None
) -> Editor | None:
    """The editor if name and password match; None otherwise. Raises RateLimited first."""
    moment = utc(now)
    key = one_line(name).lower()[:100]
    address = address[:64]
    _check_rate(engine, key, address, moment)
    with engine.connect() as connection:
        row = connection.execute(select(editors).where(func.lower(editors.c.name) == key)).first()
    ok = verify_password(password[:MAX_PASSWORD], row.password_hash if row else _DUMMY_HASH)
    with engine.begin() as connection:
        connection.execute(
            delete(login_failures).where(login_failures.c.at <= moment - FAILURE_WINDOW)
        )
        if row is None or not ok:
            connection.execute(insert(login_failures).values(name=key, address=address, at=moment))
            return None
        connection.execute(
            delete(login_failures).where(
                login_failures.c.name == key, login_failures.c.address == address
            )
        )
        connection.execute(
            update(editors).where(editors.c.id == row.id).values(last_login_at=moment)
        )
    return _editor(row)
