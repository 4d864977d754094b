"""An adaptive mDNS/DNS-SD browse: every instance found and resolved, stopping when answers stop.

Responders answer a query within about 120 ms (RFC 6762), so the browse
ends once nothing new has arrived for a quiet period and no resolution is
pending — bounded below (answers a responder must hold back for up to a
second, because another device just asked, still arrive; with no answer at
all, two rounds are waited out) and above (a flooding responder cannot keep
the run alive). Instances beyond a cap are counted, not stored; no single
service type may take more than a quarter of the cap, so that a device
flooding one type cannot push the real devices out of the bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from zeroconf import (  # type: ignore[attr-defined]  # exported, though not in __all__
    AddressResolverIPv4,
    AddressResolverIPv6,
    BadTypeInNameException,
    DNSQuestionType,
    IPVersion,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

from homediag.mdns.catalog import ENUMERATION_TYPE, normalize_type

__all__ = ["BrowseResult", "InstanceRecord", "browse", "zeroconf_log_captured"]

#: Types learned from the enumeration query beyond the built-in catalog; a
#: responder listing thousands of types gets the first ones browsed.
MAX_EXTRA_TYPES = 128
#: Resolutions running at once.
RESOLVE_CONCURRENCY = 64
#: Host names asked for their other address family after resolving with one only, at most
#: (per family).
MAX_FAMILY_FOLLOW_UPS = 64
#: Dropped instance names remembered, so that repeated answers are counted once.
_MAX_DROPPED_NAMES = 65536
_TICK = 0.05
#: How often the live count of found and resolved services is reported.
PROGRESS_EVERY = 0.2
#: When the early multicast query goes out (seconds after the browse starts):
#: after the answers to the first, unicast query have arrived.
EARLY_MULTICAST_AT = 0.25


@dataclass
class InstanceRecord:
    """One service instance: what the PTR answer named, and what resolving it found."""

    type: str
    name: str
    seen_at: float
    resolved: bool = False
    resolved_at: float | None = None
    server: str | None = None
    port: int | None = None
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    properties: dict[bytes, bytes | None] = field(default_factory=dict)
    error: str | None = None
    #: The name is not a valid DNS-SD name (control characters, bad labels):
    #: it was never asked for, so it cannot have "failed to resolve".
    malformed: bool = False


@dataclass
class BrowseResult:
    """Everything one browse found."""

    instances: dict[str, InstanceRecord] = field(default_factory=dict)
    types_browsed: list[str] = field(default_factory=list)
    types_enumerated: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    stopped: Literal["quiet", "window"] = "quiet"
    dropped_instances: int = 0
    dropped_types: int = 0
    #: What zeroconf logged or raised in callbacks during the browse (device
    #: text inside): kept as data instead of reaching the terminal.
    library_messages: list[str] = field(default_factory=list)


#: Library messages kept per browse; the rest are counted in the last one.
MAX_LIBRARY_MESSAGES = 20


def _note(messages: list[str], text: str) -> None:
    if len(messages) < MAX_LIBRARY_MESSAGES:
        messages.append(text[:512])


class _Capture(logging.Filter):
    """Takes zeroconf's log records (they quote device names and packets) off the terminal."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            with contextlib.suppress(Exception):
                _note(self.messages, f"{record.levelname}: {record.getMessage()}")
        return False


@contextlib.contextmanager
def zeroconf_log_captured(messages: list[str]) -> Iterator[None]:
    """While inside, zeroconf's warnings are appended to ``messages`` (bounded) instead of printed."""
    # zeroconf logs through the one "zeroconf" logger; with no handler set up
    # Python's last-resort handler would print its warnings raw on stderr.
    logger = logging.getLogger("zeroconf")
    capture = _Capture(messages)
    logger.addFilter(capture)
    try:
        yield
    finally:
        logger.removeFilter(capture)


async def browse(
    zc: Zeroconf,
    types: list[str],
    *,
    window: float,
    min_window: float,
    quiet: float,
    resolve_timeout: float,
    max_instances: int,
    progress: Any = None,
) -> BrowseResult:
    """Browse ``types`` plus every type the network enumerates; resolve each instance concurrently."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = BrowseResult(types_browsed=list(types))
    state = {"last": start}
    pending: set[asyncio.Task[None]] = set()
    # Questions for the other address family of hosts that resolved with one
    # only (A after AAAA alone, AAAA after A alone): their answers land in the
    # cache, read once the browse ends. They never hold the browse open (an
    # IPv6-only device has no A record to give, most IPv4 devices no AAAA):
    # the quiet period that follows the resolution leaves the answer time to
    # arrive.
    follow_ups: dict[tuple[str, int], asyncio.Task[None]] = {}
    semaphore = asyncio.Semaphore(RESOLVE_CONCURRENCY)
    browsers: list[AsyncServiceBrowser] = []
    queued_types: list[str] = []
    known_types = {t.lower() for t in types}
    per_type_cap = max(1, max_instances // 4)
    per_type: dict[str, int] = {}
    dropped: set[str] = set()
    resolved = [0]  # resolutions that succeeded so far, for the live progress

    # One type may hold a quarter of the resolution slots: a flood of one type
    # must not leave the real devices of every other type waiting in line.
    type_slots: dict[str, asyncio.Semaphore] = {}

    async def resolve(record: InstanceRecord) -> None:
        # A task's exception nobody retrieves is printed by asyncio, with the
        # device's text in it, straight onto the installer's terminal: none may escape.
        try:
            await _resolve(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as data, never printed
            record.error = f"{type(exc).__name__}: {exc}"

    async def _resolve(record: InstanceRecord) -> None:
        slots = type_slots.setdefault(
            record.type.lower(), asyncio.Semaphore(max(1, RESOLVE_CONCURRENCY // 4))
        )
        async with slots, semaphore:
            try:
                # zeroconf checks the name here: a device's name with control
                # characters raises before anything is sent.
                info = AsyncServiceInfo(record.type, record.name)
            except BadTypeInNameException as exc:
                record.malformed = True
                record.error = f"{type(exc).__name__}: {exc}"
                return
            try:
                found = info.load_from_cache(zc) or await info.async_request(
                    zc, int(resolve_timeout * 1000)
                )
            except Exception as exc:  # noqa: BLE001 - a malformed answer must not end the browse
                record.error = f"{type(exc).__name__}: {exc}"
                return
            if not found:
                return
            record.resolved = True
            resolved[0] += 1
            record.resolved_at = loop.time() - start
            record.server = info.server
            record.port = info.port
            record.ipv4 = info.parsed_addresses(IPVersion.V4Only)
            record.ipv6 = info.parsed_addresses(IPVersion.V6Only)
            record.properties = dict(info.properties)
            state["last"] = loop.time()
            if info.server and bool(record.ipv4) != bool(record.ipv6):
                ask_other_family(info.server, 4 if record.ipv6 else 6)

    def ask_other_family(server: str, family: int) -> None:
        # A resolution is complete on its first address record. avahi answers
        # a query that came over IPv6 with AAAA records only, and one answer of
        # a pair can be late or lost (seen in the lab both ways: a dual-stack
        # device listed with IPv6 only in one run, IPv4 only in another):
        # nothing else would ask for the missing family.
        key = (server.lower(), family)
        if key in follow_ups or sum(f == family for _, f in follow_ups) >= MAX_FAMILY_FOLLOW_UPS:
            return
        follow_ups[key] = loop.create_task(_ask_family(server, family))

    async def _ask_family(server: str, family: int) -> None:
        resolver = AddressResolverIPv4(server) if family == 4 else AddressResolverIPv6(server)
        with contextlib.suppress(Exception):
            await resolver.async_request(zc, int(resolve_timeout * 1000))

    def flush_types() -> None:
        batch = list(queued_types)
        queued_types.clear()
        if batch:
            browsers.append(AsyncServiceBrowser(zc, batch, handlers=[on_change]))

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        # Called by zeroconf from the event loop: an exception here would be
        # logged by asyncio with the device's name in it.
        try:
            _on_change(service_type, name, state_change)
        except Exception as exc:  # noqa: BLE001 - recorded as data, never printed
            _note(result.library_messages, f"{type(exc).__name__}: {exc}")

    def _on_change(service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            return
        now = loop.time()
        if service_type == ENUMERATION_TYPE:
            found_type = normalize_type(name)
            if found_type is None or found_type in result.types_enumerated:
                return
            if len(result.types_enumerated) < MAX_EXTRA_TYPES * 4:
                result.types_enumerated.append(found_type)
            if found_type.lower() in known_types:
                return
            known_types.add(found_type.lower())
            if len(result.types_browsed) - len(types) >= MAX_EXTRA_TYPES:
                result.dropped_types += 1
                return
            result.types_browsed.append(found_type)
            state["last"] = now
            if not queued_types:
                loop.call_soon(flush_types)
            queued_types.append(found_type)
            return
        key = name.lower()
        if key in result.instances or key in dropped:
            return
        type_key = service_type.lower()
        if len(result.instances) >= max_instances or per_type.get(type_key, 0) >= per_type_cap:
            if len(dropped) < _MAX_DROPPED_NAMES:
                dropped.add(key)
            result.dropped_instances += 1
            return
        per_type[type_key] = per_type.get(type_key, 0) + 1
        record = InstanceRecord(type=service_type, name=name, seen_at=now - start)
        result.instances[key] = record
        state["last"] = now
        task = loop.create_task(resolve(record))
        pending.add(task)
        task.add_done_callback(pending.discard)

    browsers.append(AsyncServiceBrowser(zc, [*types, ENUMERATION_TYPE], handlers=[on_change]))
    # zeroconf's first query asks for unicast answers (QU) and its second, the
    # first multicast one, goes out a second later. A device that cannot reach
    # us by unicast (one with only a self-assigned address) answers only that.
    # One early multicast query, carrying what we already heard as known
    # answers so that nobody repeats themselves, gets its answer in the first
    # half second instead.
    # That browser is stopped once its query is out (zeroconf sends it within
    # 120 ms); the main browser hears the answers like any other.
    early: AsyncServiceBrowser | None = None
    early_at = start + EARLY_MULTICAST_AT
    early_done = False
    # What the user sees while the browse runs: the counts now, not its start.
    reported = (-1, -1)
    next_report = start
    try:
        while True:
            if early is None and loop.time() >= early_at:
                # Not for a type already at its cap: a flooding responder ignores
                # known answers, and asking again would only double the flood.
                calm = [t for t in types if per_type.get(t.lower(), 0) < per_type_cap]
                early = AsyncServiceBrowser(
                    zc, calm, handlers=[on_change], question_type=DNSQuestionType.QM
                )
            elif early is not None and not early_done and loop.time() >= early_at + 0.3:
                early_done = True
                with contextlib.suppress(Exception):
                    await early.async_cancel()
            await asyncio.sleep(_TICK)
            now = loop.time()
            counts = (len(result.instances), resolved[0])
            if progress is not None and counts[0] and counts != reported and now >= next_report:
                reported, next_report = counts, now + PROGRESS_EVERY
                progress(f"{counts[0]} services found, {counts[1]} resolved")
            if now - start >= window:
                result.stopped = "window"
                break
            # With no answer at all, wait two rounds before concluding there is
            # nobody: "no mDNS answer" is itself a finding and must not be a hurry.
            floor = min_window if result.instances else min(2 * min_window, window)
            if now - start >= floor and now - state["last"] >= quiet and not pending:
                result.stopped = "quiet"
                break
    finally:
        for task in [*pending, *follow_ups.values()]:
            task.cancel()
        if early is not None and not early_done:
            browsers.append(early)
        for browser in browsers:
            with contextlib.suppress(Exception):
                await browser.async_cancel()
        if pending or follow_ups:
            await asyncio.gather(*pending, *follow_ups.values(), return_exceptions=True)
    _add_cached_addresses(zc, result)
    result.elapsed = loop.time() - start
    return result


def _add_cached_addresses(zc: Zeroconf, result: BrowseResult) -> None:
    """Add the addresses that arrived after each instance resolved (they are in the cache).

    A resolution completes on the first address record. Responders answer a
    query that came over IPv6 with AAAA records only (avahi's default,
    ``publish-a-on-ipv6=no``), and the same device's answer over IPv4, with its
    A record, lands a moment later: without this, which family a device is
    listed with depends on which packet won the race.
    """
    for record in result.instances.values():
        if not record.resolved or record.server is None:
            continue
        try:
            info = AsyncServiceInfo(record.type, record.name)
            if not info.load_from_cache(zc) or (info.server or "").lower() != record.server.lower():
                continue
            ipv4 = info.parsed_addresses(IPVersion.V4Only)
            ipv6 = info.parsed_addresses(IPVersion.V6Only)
        except Exception:  # noqa: BLE001, S112 - what resolved already stays as it is
            continue
        record.ipv4 = list(dict.fromkeys([*record.ipv4, *ipv4]))
        record.ipv6 = list(dict.fromkeys([*record.ipv6, *ipv6]))
