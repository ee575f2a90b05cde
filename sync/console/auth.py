"""Sign-in, roles and CSRF for the console.

- Passwords: argon2id (argon2-cffi's `PasswordHasher` defaults, RFC 9106's second recommended option);
  the store keeps the hash only (`sync.state.console_users`). A refused sign-in takes as long for an
  unknown name as for a wrong password (a dummy hash is verified).
- Session: Starlette's signed cookie (itsdangerous), HttpOnly, SameSite=Strict, signed with a key made
  at start-up: restarting the console signs everyone out. It holds the user name and the CSRF token;
  the user's role is read from the store on every request, so a changed role counts at once.
- CSRF: one random token per session, in every form; a POST without it (form field `csrf`, or header
  `X-CSRF-Token`) or with another is refused with 403, before anything changes.
- Sign-in token (`leadsync console --token`, and the default while no console user exists): a random
  token printed once as a URL (`/login?token=...`). The console keeps only its SHA-256 (`SignInToken`),
  in memory; the first sign-in with it uses it up (a second is refused), and it gives an admin session
  under the name `TOKEN_USER` (in the session, not in the store: it ends when the console stops).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sync.state.console_users import ConsoleUser
from sync.state.store import StateStore

MIN_PASSWORD = 12
SESSION_USER = "user"
SESSION_CSRF = "csrf"
SESSION_TOKEN = "token_admin"  # set (True) in a session signed in with the sign-in token
TOKEN_USER = "(sign-in token)"  # the name of that session's admin (shown, and in the audit log)

_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class PasswordTooShort(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShort(f"the password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def set_password(store: StateStore, name: str, role: str, password: str, *, by: str | None) -> None:
    """Create or change a console user; the change goes into the audit log (never the password)."""
    store.set_console_user(name, role, hash_password(password))
    store.audit(by or name, "set-password", f"user {name}, role {role}")


def verify(store: StateStore, name: str, password: str) -> ConsoleUser | None:
    """The user, when `password` is theirs; None otherwise (and the refusal is audited)."""
    user = store.console_user(name)
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    store.audit(user.name if user else None, "sign-in" if ok else "sign-in-refused",
                None if user else "unknown user name")
    return user if ok else None


def csrf_token(session: dict[str, str]) -> str:
    """This session's token (made on first use)."""
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return session[SESSION_CSRF]


def csrf_ok(session: dict[str, str], sent: str | None) -> bool:
    want = session.get(SESSION_CSRF)
    return bool(want and sent and hmac.compare_digest(want.encode(), sent.encode()))


def new_session_key() -> str:
    return secrets.token_urlsafe(48)


class SignInToken:
    """A single-use sign-in token, held as its SHA-256 only. `new()` makes one: the token (to print
    once, then drop) and the holder (for the app)."""

    def __init__(self, token: str) -> None:
        self._digest: bytes | None = _digest(token)
        self._lock = threading.Lock()

    @classmethod
    def new(cls) -> tuple[str, SignInToken]:
        token = secrets.token_urlsafe(32)
        return token, cls(token)

    def __repr__(self) -> str:
        return f"SignInToken(used={self.used})"

    @property
    def used(self) -> bool:
        return self._digest is None

    def redeem(self, sent: str | None) -> bool:
        """True once: for the right token, the first time; it is then used up."""
        if not sent:
            return False
        with self._lock:
            if self._digest is None or not hmac.compare_digest(self._digest, _digest(sent)):
                return False
            self._digest = None
            return True


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def token_url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/login?token={token}"
