"""Credentials: argon2 passwords, upload tokens, session ids and CSRF tokens.

Only hashes are stored. Upload tokens and session ids are random (256 bits)
and hashed with sha256 (a fast hash is right for random secrets; argon2 is
for passwords people choose).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Upload tokens start with this, so secret scanners (and homediag's own) recognise them.
TOKEN_PREFIX = "hdu_"  # noqa: S105 - a prefix, not a secret

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist: the same time either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new upload token: ``hdu_`` and 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A session id, CSRF token or one-time password."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The sha256 (hex) under which a random secret is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )
