"""Link tokens signed with the key derived once are the tokens itsdangerous's Signer makes, so
every link already mailed keeps working."""

from __future__ import annotations

import hashlib

import pytest
from itsdangerous import Signer
from itsdangerous.encoding import base64_encode

from actwatch.subscribers.tokens import _LINK_SALT, _PAYLOAD, LINK_TOKEN_LENGTH, TokenError, Tokens

SECRET = "a-test-secret-of-more-than-32-characters!"


@pytest.mark.parametrize("subscriber_id", [1, 42, 2**40 + 7])
def test_link_token_is_the_signer_s_token_and_reads_back(subscriber_id: int) -> None:
    nonce = "0123456789abcdef01234567"
    token = Tokens(SECRET).link_token(subscriber_id, nonce)
    payload = base64_encode(_PAYLOAD.pack(subscriber_id, bytes.fromhex(nonce)))
    signer = Signer(SECRET, salt=_LINK_SALT, digest_method=hashlib.sha256)
    assert token == signer.sign(payload).decode("ascii")
    assert len(token) == LINK_TOKEN_LENGTH
    claim = Tokens(SECRET).read_link_token(token)
    assert (claim.subscriber_id, claim.nonce) == (subscriber_id, nonce)
    with pytest.raises(TokenError):
        Tokens(SECRET + "x").read_link_token(token)
