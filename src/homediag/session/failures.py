"""What goes wrong around probes, told and survived.

The recorded failure of a probe, the live text of an event (without
secrets), and reading the observer without losing the run when it fails.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys

from homediag.config import Config
from homediag.model.bundle import ErrorInfo, Observer
from homediag.net.observe import Observation, observe
from homediag.redact.secrets import SecretRegistry
from homediag.redact.urls import redact_urls
from homediag.runtime.result import ProbeResult

__all__ = ["cycle_failure", "failure_of", "observe_within", "shown_live"]

log = logging.getLogger("homediag.runner")


def cycle_failure(name: str, circle: str) -> ProbeResult:
    """What probe ``name`` is recorded as when it waits, in ``circle``, for itself."""
    message = f"probe dependency cycle: {circle}; none of them can start"
    return ProbeResult(
        name=name,
        status="error",
        summary=message,
        error=ErrorInfo(type="ProbeDependencyError", message=message),
    )


def failure_of(exc: BaseException) -> ErrorInfo:
    """The error a probe's exception is recorded as: the innermost type and a readable message."""
    return ErrorInfo(type=type(_leaf(exc)).__name__, message=_message(exc))


async def observe_within(config: Config, timeout: float) -> Observation:
    """The observer, read within ``timeout`` s; a bare one with a note when it cannot be read."""
    try:
        async with asyncio.timeout(timeout):
            return await observe(
                interface=config.run.interface,
                unprivileged=config.run.privileges == "unprivileged",
            )
    except Exception as exc:  # noqa: BLE001 - a broken observer must not lose the run
        log.warning("could not read the network configuration: %s", exc)
        observer = Observer(
            platform=sys.platform,
            platform_release=platform.release(),
            python=platform.python_version(),
            privileged=False,
        )
        return Observation(
            observer, notes=[f"network configuration unreadable: {type(exc).__name__}: {exc}"]
        )


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
    return secrets.mask(text)


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
