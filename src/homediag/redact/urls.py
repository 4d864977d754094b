"""Configured URLs: parse them once, use them with their credentials, show them without.

A user writes URLs the way they copy them: ``https://user:pa/ss@host/path``
with a raw ``/`` or ``@`` in the password, tokens in the query
(``?api_token=…``, ``X-Amz-Signature=…``, an Azure SAS ``sig=…``) or in the
fragment (``#access_token=…``). Every part of homediag that meets such a URL
goes through this module:

* :func:`parse_url` validates a configured URL (scheme, host, port) and
  returns a :class:`ParsedUrl`: the URL for the probes (userinfo
  percent-encoded so that :func:`urllib.parse.urlsplit` reads it right), the
  URL for display (credentials and secret parameters masked) and every secret
  part, for the run's secret registry. Its errors never quote a credential.
* :func:`mask_url` masks one URL found anywhere; :func:`redact_urls` masks
  every URL in free text (error messages, evidence, device strings).

How the userinfo is found: it ends at the *last* ``@`` that a whole
``host[:port]`` follows (then ``/``, ``?``, ``#`` or the end), so
``u:p@ss@host`` has the password ``p@ss`` and ``u:pa/ss@host`` the password
``pa/ss``; ``https://host/path@x`` keeps its host, since nothing before its
first ``/`` looks like ``user:password``. Where two readings are possible
(``u:1234/5@host`` and ``h:8443/p?mail=a@b`` also read as ``host:port``;
``u:p@a/b@host`` has two hosts after an ``@``), free text is masked under the
reading that hides more, and :func:`parse_url` refuses the URL and asks for
``%40`` and ``%2F``: a misread configured URL would send its credentials to
another host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

from homediag.redact.secret_names import is_secret_name
from homediag.redact.secrets import MIN_SECRET_LENGTH, NOT_SECRETS, REDACTED

__all__ = [
    "REDACTED",
    "InvalidUrlError",
    "ParsedUrl",
    "huntable",
    "mask_url",
    "parse_url",
    "redact_urls",
    "safe_display",
]

#: Longest configured URL accepted: long enough for a presigned S3 URL.
MAX_URL_LENGTH = 8192

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A host (name, IPv4, or bracketed IPv6 with an optional zone) and an optional
# port, as it must stand right after the userinfo's "@".
_HOSTPORT_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]|[\w.~-]+)(?::\d*)?")
# The same, as the search for the end of a userinfo takes it: any port text,
# so that "u:pw@host:bad" still masks its password (and then fails to parse).
_LOOSE_HOSTPORT_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]|[\w.~-]+)(?::[^/?#@\s]*)?")
# URLs in free text: a scheme, then everything up to white space or a quote.
_URL_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")


class InvalidUrlError(ValueError):
    """A configured URL that homediag cannot use; the message never quotes a credential."""


@dataclass(frozen=True)
class ParsedUrl:
    """A configured URL, ready for the probes and safe to show."""

    url: str
    """The URL for the probes: as written, with its userinfo percent-encoded."""
    display: str
    """The URL for people and bundles: credentials and secret parameters masked."""
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    secrets: tuple[str, ...]
    """Every secret part worth hunting (see :func:`huntable`): the password, the whole
    userinfo, secret parameter values, raw and decoded."""


@dataclass(frozen=True)
class _Split:
    scheme: str  # as written, with "://"
    userinfo: str | None
    hostport: str
    rest: str  # path, query and fragment as written


def _split(text: str) -> _Split | None:
    """Scheme, userinfo, host[:port] and the rest of a URL, tolerating raw ``@`` and ``/``."""
    scheme = _SCHEME_RE.match(text)
    if scheme is None:
        return None
    after = text[scheme.end() :]
    end = _authority_end(after)
    authority = after[:end]
    # "host/path@x" keeps its host. But "user:000/@host" and "user:?@host"
    # also read as host:port up to the "/" or "?": with a ":" and an "@" that
    # a host follows, it is taken for a userinfo, masked rather than shown
    # (and parse_url refuses it as ambiguous).
    if (
        "@" not in authority
        and _HOSTPORT_RE.fullmatch(authority)
        and (":" not in authority or next(_userinfo_ends(after), None) is None)
    ):
        return _Split(scheme.group(0), None, authority, after[end:])
    # The userinfo ends at the last "@" that a host follows.
    for at, host_end in _userinfo_ends(after):
        return _Split(scheme.group(0), after[:at], after[at + 1 : host_end], after[host_end:])
    if "@" in authority:
        # No host after any "@" ("https://user:secret@"): still a userinfo, so
        # that it is masked; the URL does not parse.
        at = authority.rindex("@")
        return _Split(scheme.group(0), authority[:at], authority[at + 1 :], after[end:])
    return _Split(scheme.group(0), None, authority, after[end:])


def _userinfo_ends(after: str) -> Iterator[tuple[int, int]]:
    """Each ``@`` (last first) that a whole ``host[:port]`` follows, and where that host ends.

    Linear in ``len(after)``: the host pattern stops at the next ``@``.
    """
    at = len(after)
    while (at := after.rfind("@", 0, at)) >= 0:
        host = _LOOSE_HOSTPORT_RE.match(after, at + 1)
        if host is not None and (host.end() == len(after) or after[host.end()] in "/?#"):
            yield at, host.end()


def huntable(value: str) -> bool:
    """Whether a secret is specific enough to be hunted for everywhere.

    Values shorter than :data:`~homediag.redact.secrets.MIN_SECRET_LENGTH`,
    common words and short numbers are masked where they stand in a URL,
    never hunted: ``?auth=true`` must not make every ``true`` a secret.
    Nor are values longer than any configured URL (a hostile device's text).
    """
    return (
        MIN_SECRET_LENGTH <= len(value) <= MAX_URL_LENGTH
        and value.lower() not in NOT_SECRETS
        and not (value.isdigit() and len(value) < 8)
    )


def _huntable_forms(groups: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(form for group in groups for form in group if huntable(form)))


def _authority_end(text: str) -> int:
    for i, char in enumerate(text):
        if char in "/?#":
            return i
    return len(text)


def _userinfo_parts(userinfo: str) -> tuple[str, str | None]:
    user, colon, password = userinfo.partition(":")
    return user, password if colon else None


def _mask_params(text: str, found: list[list[str]]) -> str:
    """Mask the values of secret-looking ``name=value`` pairs in a query or fragment."""
    if "=" not in text:
        return text
    pieces = re.split(r"(&)", text)  # not ";": a value may hold one
    for i in range(0, len(pieces), 2):
        name, eq, value = pieces[i].partition("=")
        if eq and value and value != REDACTED and is_secret_name(name):
            found.append([value, unquote_plus(value), unquote(value)])
            pieces[i] = f"{name}={REDACTED}"
    return "".join(pieces)


def _mask_rest(rest: str, found: list[list[str]]) -> str:
    path, hash_, fragment = rest.partition("#")
    path, qmark, query = path.partition("?")
    out = path + qmark + _mask_params(query, found)
    return out + hash_ + _mask_params(fragment, found) if hash_ else out


def _userinfo_secrets(userinfo: str) -> list[str]:
    user, password = _userinfo_parts(userinfo)
    if password is None:
        # A bare userinfo ("https://TOKEN@host") is a token as often as a name.
        return list(dict.fromkeys((userinfo, unquote(userinfo))))
    decoded = f"{unquote(user)}:{unquote(password)}"
    return list(dict.fromkeys((password, unquote(password), userinfo, decoded)))


def _masked(split: _Split, found: list[list[str]]) -> str:
    """The URL with its secrets masked; each secret found is appended as a group of its forms."""
    head = split.scheme
    if split.userinfo is not None:
        user, password = _userinfo_parts(split.userinfo)
        head += f"{user}:{REDACTED}@" if password is not None else f"{REDACTED}@"
        if REDACTED not in (password, split.userinfo):  # masked before: nothing new
            found.append(_userinfo_secrets(split.userinfo))
    return head + split.hostport + _mask_rest(split.rest, found)


#: A parameter's name that a ``?``, ``&`` or ``#`` starts (names only: a value may hold another).
_PARAM_NAME_IN_URL_RE = re.compile(r"(?<=[?&#])([^=&#?/@\s]+)=")


def _mask_params_anywhere(text: str, found: list[list[str]]) -> str:
    """Mask every secret ``name=value`` wherever it starts, its value to the next ``&`` or ``#``."""
    spans: list[tuple[int, int]] = []
    for match in _PARAM_NAME_IN_URL_RE.finditer(text):
        if not is_secret_name(match.group(1)):
            continue
        start = end = match.end()
        while end < len(text) and text[end] not in "&#" and not text[end].isspace():
            end += 1
        value = text[start:end]
        if value and value != REDACTED:
            found.append([value, unquote_plus(value), unquote(value)])
            spans.append((start, end))
    for start, end in reversed(spans):  # right to left: earlier offsets stay valid
        text = text[:start] + REDACTED + text[end:]
    return text


def _mask_all(text: str, found: list[list[str]]) -> str | None:
    """One URL masked under both readings of it; ``None`` if it is not a URL.

    The query as the standard library would read it (from the first ``?``)
    is masked first: a token such as ``?api_token=@x/`` holds an ``@`` that a
    host follows, and must not be taken for the end of a userinfo and shown.
    """
    scheme = _SCHEME_RE.match(text)
    if scheme is None:
        return None
    head, qmark, query = text.partition("?")
    if qmark:
        text = head + qmark + _mask_rest("?" + query, found)[1:]
    # And wherever a secret parameter starts: a password with a raw "?"
    # ("user:@0?=@host/p?api_token=@0?=") hides the real query from the
    # reading above, and the token's own "@" would pass for the userinfo's end.
    text = _mask_params_anywhere(text, found)
    split = _split(text)
    return None if split is None else _masked(split, found)


def mask_url(text: str) -> tuple[str, list[str]]:
    """``text`` (one URL) with credentials and secret parameters masked, and the secrets removed.

    Text that is not a URL comes back unchanged, with no secrets.
    """
    found: list[list[str]] = []
    masked = _mask_all(text, found)
    return (text, []) if masked is None else (masked, _huntable_forms(found))


def redact_urls(text: str, on_secret: Callable[[list[str]], None]) -> str:
    """Mask every URL in free text.

    ``on_secret`` is called once per secret removed (a password, a parameter
    value) with the forms worth hunting: the value as written first, then its
    decoded forms (and for a password, the whole userinfo).
    """
    if "://" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        found: list[list[str]] = []
        masked = _mask_all(match.group(0), found)
        for group in found:
            forms = _huntable_forms([group])
            if forms:
                on_secret(forms)
        return match.group(0) if masked is None else masked

    return _URL_IN_TEXT_RE.sub(one, text)


def safe_display(text: str, limit: int = 200) -> str:
    """A URL as an error message may show it: masked, on one line, and not too long.

    A bare ``user:password@host`` (no scheme) is masked too, and control
    characters are escaped so that the message stays one line.
    """
    # Escape first: a newline or a space inside a password must not split
    # the URL into a masked head and a tail shown as it is.
    line = "".join(c if c.isprintable() and not c.isspace() else f"\\x{ord(c):02x}" for c in text)
    # The whole rest is one URL: no free-text pattern may cut it short at a
    # quote or "<" that a password holds.
    start = _SCHEME_RE.search(line) if "://" in line else None
    if start is None:
        line = mask_url(f"x://{line}")[0].removeprefix("x://")
    else:
        line = line[: start.start()] + mask_url(line[start.start() :])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def parse_url(
    text: str,
    *,
    schemes: tuple[str, ...] = ("http", "https"),
    bare_host_scheme: str | None = None,
) -> ParsedUrl:
    """Validate a configured URL and split it for use and display.

    ``schemes`` are the ones accepted; ``bare_host_scheme``, when given, is
    assumed for a bare ``host[:port]`` (the internet endpoints' short form).
    Raises :class:`InvalidUrlError` with a message that masks credentials.
    """
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrlError(f"longer than {MAX_URL_LENGTH} characters")
    if any(not c.isprintable() or c.isspace() for c in text):
        raise InvalidUrlError(f"contains white space or control characters: {safe_display(text)}")
    written = text
    if bare_host_scheme is not None and "://" not in text:
        written = f"{bare_host_scheme}://{text}"
    split = _split(written)
    if split is None:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise InvalidUrlError(f"not a URL (it must start with {wanted}): {safe_display(text)}")
    scheme = split.scheme[:-3].lower()
    if scheme not in schemes:
        wanted = ", ".join(schemes)
        raise InvalidUrlError(
            f"scheme {scheme!r} is not supported ({wanted}): {safe_display(text)}"
        )
    host, port = _host_and_port(split, text)
    if _ambiguous(split, written, port):
        # "https://u:1234/5@host" or "https://host:8443/users/@me"? Refuse to guess.
        raise InvalidUrlError(
            "ambiguous '@': percent-encode '@' and '/' in a password (%40, %2F) "
            f"and '@' in a path (%40): {safe_display(text)}"
        )
    found: list[list[str]] = []
    display = _masked(split, found)
    username = password = None
    url = text
    if split.userinfo is not None:
        user, raw_password = _userinfo_parts(split.userinfo)
        username = unquote(user)
        password = unquote(raw_password) if raw_password is not None else None
        userinfo = quote(username, safe="")
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        url = split.scheme + userinfo + "@" + split.hostport + split.rest
    default = {"https": 443, "http": 80}.get(scheme, 0)
    if bare_host_scheme is not None and "://" not in text:
        display = display[len(split.scheme) :]
    return ParsedUrl(
        url=url,
        display=display,
        scheme=scheme,
        host=host,
        port=port if port is not None else default,
        username=username,
        password=password,
        secrets=tuple(_huntable_forms(found)),
    )


def _ambiguous(split: _Split, written: str, port: int | None) -> bool:
    """Whether another reading of the URL would put the host somewhere else."""
    if split.userinfo is not None:
        after = written[len(split.scheme) :]
        authority = after[: _authority_end(after)]
        if "@" not in authority and _HOSTPORT_RE.fullmatch(authority):
            return True  # it reads as host:port too ("u:1234/5@host", "h:8443/@me")
        ends = _userinfo_ends(after)
        return next(ends, None) is not None and next(ends, None) is not None
    # No userinfo, a port, and an "@" in the path: "u:1234/5@host" reads the same.
    return port is not None and "@" in split.rest.partition("?")[0].partition("#")[0]


def _host_and_port(split: _Split, text: str) -> tuple[str, int | None]:
    hostport = split.hostport
    if not _HOSTPORT_RE.fullmatch(hostport):
        raise InvalidUrlError(f"no valid host: {safe_display(text)}")
    if hostport.startswith("["):
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise InvalidUrlError(f"no host: {safe_display(text)}")
    if not port_text:
        return host.lower(), None
    port = int(port_text)
    if not 0 < port < 65536:
        raise InvalidUrlError(f"port {port} is out of range (1-65535): {safe_display(text)}")
    return host.lower(), port
