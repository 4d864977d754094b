"""How what goes wrong in a probe is told: the recorded failure, and the live text of an event."""

from __future__ import annotations

from homediag.model.bundle import ErrorInfo
from homediag.redact.secrets import REDACTED, SecretRegistry
from homediag.redact.urls import redact_urls

__all__ = ["failure_of", "shown_live"]


def failure_of(exc: BaseException) -> ErrorInfo:
    """The error a probe's exception is recorded as: the innermost type and a readable message."""
    return ErrorInfo(type=type(_leaf(exc)).__name__, message=_message(exc))


def shown_live(text: str, secrets: SecretRegistry) -> str:
    """``text`` as events may carry it to a terminal: no secret, no URL credential.

    Events are printed live, before the bundle's redaction; an exception
    message may quote a password. Addresses stay (the bundle's level decides
    about those, and the installer sees their own network). A credential
    found in a URL joins ``secrets``, so the bundle's scan knows it too.
    """
    if not text:
        return text

    # Light on purpose (no redactor import on the loop while mDNS listens).
    def learn(forms: list[str]) -> None:
        for form in forms:
            secrets.add(form)

    text = redact_urls(text, learn)
    for form, _ in secrets.occurrences(text):
        text = text.replace(form, REDACTED)
    return text


def _leaf(exc: BaseException) -> BaseException:
    # A probe's own TaskGroup wraps the real error in an ExceptionGroup.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _message(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_message(e) for e in exc.exceptions)
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if not exc.filename else f"{exc.strerror}: {exc.filename}"
    return text or type(exc).__name__
