"""Editor accounts: scrypt password hashes, logged-in sessions, and failed logins.

The one owner of the `editors`, `editor_sessions` and `login_failures` tables: the web editor
(log in, sessions) and `actwatch editors` both go through this module.

There is no default account: `actwatch editors add NAME` makes the first one. A hash is stored
as `scrypt$n$r$p$salt$key` (base64), so the cost can be raised: old hashes still verify, and a
hash made with less than today's cost is replaced at the editor's next login. The cost follows
OWASP's password storage guidance for scrypt (N=2^17, r=8, p=1: 128 MiB and about 0.4 s a
check), which is why the web editor lets only a couple of checks run at once.

A session is a random secret in the editor's cookie and its SHA-256 here: logging out deletes
the row, changing the password (or removing the account) deletes every row of that editor, so a
copied cookie stops working on the server, not just in one browser. A session also ends after a
time unused and at a fixed time after its login, however busy.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from actwatch.core.clock import utc
from actwatch.core.emails import EmailError, check_email
from actwatch.core.text import one_line
from actwatch.db.schema import editor_sessions, editors, login_failures

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
# Last seen is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
KEY_BYTES = 32
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


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
    # scrypt needs 128 * n * r bytes; the limit leaves room for OpenSSL's own bookkeeping.
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=129 * n * r + 2**20,
        dklen=KEY_BYTES,
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


def needs_rehash(stored: str) -> bool:
    """True for a hash made with less than today's cost (or not by scrypt at all)."""
    try:
        scheme, n, r, p, _salt, _key = stored.split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return True


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name takes as long as a wrong
    password (made on first use: importing this module stays instant)."""
    return hash_password(secrets.token_urlsafe(16))


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
    if email is not None:
        try:
            email = check_email(email)
        except EmailError as exc:
            raise AccountError(f"not an email address: {exc}") from None
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
    """A new password; every session of the editor ends (a stolen cookie with it)."""
    check_new_password(password)
    new_hash = hash_password(password)
    with engine.begin() as connection:
        found = connection.execute(
            select(editors.c.id).where(func.lower(editors.c.name) == clean_name(name).lower())
        ).first()
        if found is None:
            raise AccountError(f"no editor called {name!r}")
        connection.execute(
            update(editors).where(editors.c.id == found.id).values(password_hash=new_hash)
        )
        connection.execute(delete(editor_sessions).where(editor_sessions.c.editor_id == found.id))


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


def list_editors(engine: Engine) -> list[Editor]:
    with engine.connect() as connection:
        return [
            _editor(row) for row in connection.execute(select(editors).order_by(editors.c.name))
        ]


# Sessions.


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(
    engine: Engine, editor_id: int, *, lifetime: timedelta, now: datetime | None = None
) -> str:
    """A new session for the editor; the secret goes into their cookie, only its digest here.
    Sessions past their lifetime are swept out on the way."""
    moment = utc(now)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            delete(editor_sessions).where(editor_sessions.c.created_at < moment - lifetime)
        )
        connection.execute(
            insert(editor_sessions).values(
                id=_session_id(secret), editor_id=editor_id, created_at=moment, last_seen_at=moment
            )
        )
    return secret


def session_editor(
    engine: Engine,
    secret: str,
    *,
    idle: timedelta,
    lifetime: timedelta,
    now: datetime | None = None,
) -> Editor | None:
    """The editor a session belongs to, if it is still open: not logged out, not ended by a new
    password, not idle for `idle`, not older than `lifetime`."""
    if not isinstance(secret, str) or not secret or len(secret) > 100:
        return None
    moment = utc(now)
    session_id = _session_id(secret)
    with engine.connect() as connection:
        row = connection.execute(
            select(
                editors,
                editor_sessions.c.created_at.label("session_created_at"),
                editor_sessions.c.last_seen_at.label("session_last_seen_at"),
            )
            .join(editor_sessions, editor_sessions.c.editor_id == editors.c.id)
            .where(editor_sessions.c.id == session_id)
        ).first()
    if row is None:
        return None
    if row.session_created_at + lifetime <= moment or row.session_last_seen_at + idle <= moment:
        end_session(engine, secret)
        return None
    if moment - row.session_last_seen_at >= TOUCH_EVERY:
        with engine.begin() as connection:
            connection.execute(
                update(editor_sessions)
                .where(editor_sessions.c.id == session_id)
                .values(last_seen_at=moment)
            )
    return _editor(row)


def end_session(engine: Engine, secret: str) -> None:
    """Log out: this session's cookie opens nothing any more, wherever it was copied to."""
    with engine.begin() as connection:
        connection.execute(
            delete(editor_sessions).where(editor_sessions.c.id == _session_id(secret))
        )


def session_count(engine: Engine, editor_id: int) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(editor_sessions.c.editor_id == editor_id)
            ).scalar_one()
        )


# Logging in. The web editor throttles attempts (web/throttle.py) before it calls `check_login`.


def editor_id_for(engine: Engine, name: str) -> int | None:
    """The id of the account a login names, if there is one."""
    with engine.connect() as connection:
        found = connection.execute(
            select(editors.c.id).where(func.lower(editors.c.name) == one_line(name).lower()[:100])
        ).scalar()
    return int(found) if found is not None else None


def check_login(
    engine: Engine, name: str, password: str, *, now: datetime | None = None
) -> Editor | None:
    """The editor if name and password match, else None (after the same scrypt work either way).
    A match on a hash made at a lower cost replaces it with one at today's cost."""
    moment = utc(now)
    key = one_line(name).lower()[:100]
    with engine.connect() as connection:
        row = connection.execute(select(editors).where(func.lower(editors.c.name) == key)).first()
    password = password[:MAX_PASSWORD]
    ok = verify_password(password, row.password_hash if row else _dummy_hash())
    if row is None or not ok:
        return None
    values: dict[str, Any] = {"last_login_at": moment}
    if needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)
    with engine.begin() as connection:
        connection.execute(
            update(editors)
            .where(editors.c.id == row.id, editors.c.password_hash == row.password_hash)
            .values(**values)
        )
    return _editor(row)


@dataclass(frozen=True)
class LoginFailure:
    name: str
    address: str
    at: datetime


def record_login_failure(
    engine: Engine, name: str, address: str, *, now: datetime | None = None
) -> None:
    """Kept for a week: the operator's record, and the throttle's memory across a restart."""
    with engine.begin() as connection:
        connection.execute(
            insert(login_failures).values(
                name=one_line(name).lower()[:100], address=address[:64], at=utc(now)
            )
        )


def recent_login_failures(engine: Engine, since: datetime) -> list[LoginFailure]:
    with engine.connect() as connection:
        return [
            LoginFailure(row.name, row.address, row.at)
            for row in connection.execute(
                select(login_failures)
                .where(login_failures.c.at > since)
                .order_by(login_failures.c.at)
            )
        ]


def prune_login_failures(engine: Engine, before: datetime) -> int:
    """Forget failed logins (names and addresses) from before `before`; how many."""
    with engine.begin() as connection:
        return int(
            connection.execute(delete(login_failures).where(login_failures.c.at < before)).rowcount
        )
