"""Which parameter names carry a secret: ``api_token``, ``X-Amz-Signature``, ``sig``… yes; ``page`` no.

Used wherever a name=value pair is met (URL queries and fragments, plugin
settings): the value of a secret name is masked and registered as a secret.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

__all__ = ["is_secret_name"]

# Parameter names that are secrets whatever else they say (compared without
# separators, lower case), and words that make any name a secret.
_SECRET_NAMES = frozenset(
    {
        "code",  # OAuth authorization codes, Azure Functions keys
        "sig",  # Azure SAS, many signed URLs
        "key",
        "pass",
        "pw",
        "pwd",
        "auth",
        "sid",
        "hash",
        "hmac",
        "nonce",
        "otp",
        "pin",
        "ticket",
        "assertion",
    }
)
_SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "signature",
        "sig",
        "key",
        "apikey",
        "auth",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "jwt",
        "cookie",
        "bearer",
        "hmac",
        "otp",
        "private",
        "assertion",
        "ticket",
    }
)
# Substrings that make a name secret even when glued to other words
# ("authToken", "xapikey", "clientsecret", "oauth_verifier").
_SECRET_PARTS = (
    "token",
    "secret",
    "passw",
    "signature",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "jwt",
    "session",
    "auth",
)
# Names about a secret rather than holding one ("token_type", "key_id",
# "expires_in"): their last word says so.
_ABOUT_WORDS = frozenset(
    {
        "type", "expires", "expiry", "expiration", "in", "at", "hint", "length", "format",
        "version", "alg", "algorithm", "date", "method", "mode", "name", "url", "uri",
    }
)  # fmt: skip
_WORD_SPLIT_RE = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    """Whether a query or fragment parameter called ``name`` carries a secret.

    ``api_token``, ``client_secret``, ``X-Amz-Signature``, ``sig``, ``key``,
    ``access_token``, ``apiKey``… are; ``format``, ``page``, ``lang`` are not.
    """
    words = [w.lower() for w in _WORD_SPLIT_RE.split(unquote_plus(name)) if w]
    glued = "".join(words)
    if not glued:
        return False
    if len(words) > 1 and words[-1] in _ABOUT_WORDS:
        return False
    if glued in _SECRET_NAMES or any(w in _SECRET_WORDS for w in words):
        return True
    return any(part in glued for part in _SECRET_PARTS)
