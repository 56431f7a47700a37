"""Signed, opaque tokens for the links a subscriber gets.

- The *link token* (unsubscribe and preferences) carries the subscriber's id and their
  `token_nonce` and never expires; rotating the nonce voids every old link at once. It always has
  the same length (`LINK_TOKEN_LENGTH`), so delivery can render a message once with a placeholder
  of that length and drop each reader's token into the encoded bytes.
- The *confirmation token* of the double opt-in also carries the nonce, and expires.

The secret is the web secret key (`web.secret_key_env`); a purpose-specific salt keeps a token of
one kind from being accepted as the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from actwatch.config import Config

MIN_SECRET = 32
NONCE_BYTES = 12
_LINK_SALT = "actwatch.subscriber-link"
_CONFIRM_SALT = "actwatch.subscriber-confirm"
_FORM_SALT = "actwatch.public-form"
_PAYLOAD = struct.Struct(">Q12s")  # subscriber id, nonce
# base64url(20 bytes) = 27 characters, "." and base64url(SHA-256) = 43 characters.
LINK_TOKEN_LENGTH = 27 + 1 + 43


class TokenError(Exception):
    """A token that is forged, mangled, expired or for something else."""


class SecretMissing(Exception):
    """The signing key is not set (or too short) in the environment."""


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def secret_from_env(config: Config, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    name = config.web.secret_key_env
    secret = env.get(name, "")
    if len(secret) < MIN_SECRET:
        raise SecretMissing(
            f"set the environment variable {name} to at least {MIN_SECRET} random characters "
            "(it signs the editors' sessions and the subscribers' links)"
        )
    return secret


@dataclass(frozen=True)
class LinkClaim:
    subscriber_id: int
    nonce: str


class Tokens:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET:
            raise SecretMissing(f"the secret key must have at least {MIN_SECRET} characters")
        self._link = Signer(secret, salt=_LINK_SALT, digest_method=hashlib.sha256)
        # Derived once: a bulk send signs a token per message, and Signer derives it every time.
        self._link_key = self._link.derive_key()
        self._confirm = URLSafeTimedSerializer(secret, salt=_CONFIRM_SALT)
        self._form = URLSafeTimedSerializer(secret, salt=_FORM_SALT)

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] | None = None) -> Tokens:
        return cls(secret_from_env(config, env))

    # Unsubscribe and preferences.

    def link_token(self, subscriber_id: int, nonce: str) -> str:
        payload = base64_encode(_PAYLOAD.pack(subscriber_id, _nonce_bytes(nonce)))
        # What `self._link.sign(payload)` gives, with the key derived once.
        signature = base64_encode(hmac.digest(self._link_key, payload, "sha256"))
        token = (payload + self._link.sep + signature).decode("ascii")
        assert len(token) == LINK_TOKEN_LENGTH
        return token

    def read_link_token(self, token: str) -> LinkClaim:
        if not isinstance(token, str) or len(token) != LINK_TOKEN_LENGTH:
            raise TokenError("not a link token")
        try:
            payload = self._link.unsign(token.encode("ascii"))
            subscriber_id, nonce = _PAYLOAD.unpack(base64_decode(payload))
        except (BadSignature, UnicodeEncodeError, ValueError, struct.error) as exc:
            raise TokenError("the link is not valid (mistyped or cut short?)") from exc
        return LinkClaim(int(subscriber_id), nonce.hex())

    # Double opt-in.

    def confirm_token(self, subscriber_id: int, nonce: str) -> str:
        return self._confirm.dumps([subscriber_id, nonce])

    def read_confirm_token(self, token: str, max_age: timedelta) -> LinkClaim:
        try:
            subscriber_id, nonce = self._confirm.loads(token, max_age=int(max_age.total_seconds()))
        except SignatureExpired as exc:
            raise TokenError("this confirmation link has expired: subscribe again") from exc
        except (BadSignature, ValueError, TypeError) as exc:
            raise TokenError("the confirmation link is not valid (mistyped or cut short?)") from exc
        if not isinstance(subscriber_id, int) or not isinstance(nonce, str):
            raise TokenError("the confirmation link is not valid")
        return LinkClaim(subscriber_id, nonce)

    # Public forms: a signed, timed value instead of a session cookie.

    def form_token(self, purpose: str) -> str:
        return self._form.dumps(purpose)

    def form_token_ok(self, token: str, purpose: str, max_age: timedelta) -> bool:
        try:
            value = self._form.loads(token, max_age=int(max_age.total_seconds()))
        except (BadSignature, ValueError, TypeError):
            return False
        return bool(value == purpose)


def _nonce_bytes(nonce: str) -> bytes:
    try:
        raw = bytes.fromhex(nonce)
    except ValueError:
        raw = b""
    if len(raw) != NONCE_BYTES:
        raise ValueError(f"a token nonce is {NONCE_BYTES} bytes of hex (got {nonce!r})")
    return raw
