"""Watching mDNS: announcements and goodbyes as they happen, plus a periodic re-query.

One python-zeroconf instance on the observer's interface (the same choice
as the ``mdns`` probe) is shared by two sources:

- :class:`MdnsListener` hears every mDNS response on the link (announcements,
  goodbyes with TTL 0, answers to anybody's questions) and emits a sample when
  something about a device changes: a device not seen before, one coming back,
  an address set that changed, a goodbye. Steady re-announcements and
  answers to routine questions give no sample (the re-browse's samples say
  that a device is there).
- :class:`MdnsRebrowse` (the sampler, every 60 s) asks every known device
  for its addresses (A and AAAA of its host name: unique records, answered
  at once, without known-answer suppression) and re-browses the service
  types seen (PTR, *with* the known answers, so that only devices not yet
  known answer). It yields one sample per device asked: answered or not.

Why not rely on TTL expiry: devices announce PTR records with TTL 4500 s
(75 min) and addresses with 120 s; an unplugged device says nothing, and the
cache would keep it for up to 75 minutes. The re-query notices it within two
rounds (the detector's default): at the default 60 s, 60 to 120 s after it was
unplugged (plus the round's wait, ≤ 4.5 s), with the event's start at the
first unanswered question (≤ 60 s after the truth). A goodbye is seen at once.

Etiquette (RFC 6762): the re-query runs no faster than every 10 s (its
floor in :mod:`~homediag.recording.rates`), asks all devices in one batch of
packets, repeats a question within a round only after a second (5.2), and
a device that stopped answering is asked every round for its first
``BACKOFF_AFTER`` misses, then at intervals that double up to an hour (its
return is heard anyway: a responder announces itself when it comes back,
8.3). At most ``MAX_DEVICES`` devices are tracked.

The device key is the mDNS host name (lower case, no trailing dot): see
:mod:`homediag.timeline.mdns`. Baseline instances that never resolved to a
host cannot be asked for an address and are not tracked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from zeroconf import IPVersion, RecordUpdate, RecordUpdateListener, Zeroconf
from zeroconf._dns import DNSAddress, DNSPointer, DNSQuestion, DNSRecord, DNSService
from zeroconf._protocol.outgoing import DNSOutgoing
from zeroconf._utils.time import current_time_millis
from zeroconf.asyncio import AsyncZeroconf
from zeroconf.const import (
    _CLASS_IN,
    _FLAGS_QR_QUERY,
    _TYPE_A,
    _TYPE_AAAA,
    _TYPE_PTR,
)

from homediag.errors import ConfigError
from homediag.facts.mdns import MdnsFacts
from homediag.mdns.browse import MAX_LIBRARY_MESSAGES, zeroconf_log_captured
from homediag.model.timeline import Sample, Scalar
from homediag.recording.context import WatchContext
from homediag.recording.samplers import Listener, Sampler, check_rate

__all__ = [
    "BACKOFF_AFTER",
    "MAX_DEVICES",
    "MdnsListener",
    "MdnsRebrowse",
    "MdnsWatch",
    "device_key",
    "mdns_sources",
]

NAME = "mdns"
#: Devices tracked at most (baseline and heard); more are counted, not kept.
MAX_DEVICES = 256
#: Service types re-browsed at most.
MAX_TYPES = 64
#: Instances remembered per device.
MAX_INSTANCES = 32
#: Addresses kept per device and family.
MAX_ADDRESSES = 8
#: Misses after which a vanished device is asked less and less often.
BACKOFF_AFTER = 5
#: The longest a vanished device goes unasked, in rounds (an hour at 60 s).
MAX_BACKOFF_ROUNDS = 60
#: RFC 6762 5.2: the same question twice at least a second apart (times the scale).
REPEAT_AFTER_S = 1.0
#: What a device sends within this long after its goodbye is stale, not a return
#: (seconds, not scaled: it is the responders' timing). RFC 6762 10.1 gives a
#: goodbye's records one second too.
GOODBYE_HOLD_S = 1.0
#: A responder multicasts a record at most once a second (RFC 6762 section 6).
MULTICAST_HOLD_S = 1.0
#: Real seconds between two re-browses at least, whatever the scale: at 1 s,
#: half the answers are held back by that rule (seen in the lab).
MIN_REAL_INTERVAL_S = 2.0
_STRING = 256


def _note(messages: list[str], text: str) -> None:
    if len(messages) < MAX_LIBRARY_MESSAGES:
        messages.append(text[:_STRING])


def device_key(host: str) -> str:
    """The device key of an mDNS host name: lower case, without the trailing dot."""
    return host.strip().rstrip(".").lower()[:_STRING]


def _fqdn(host: str) -> str:
    host = host.strip().rstrip(".")
    return f"{host}.local." if "." not in host else f"{host}."


def _joined(addresses: Iterable[str]) -> str:
    return ",".join(sorted(addresses))[:_STRING]


@dataclass
class _Device:
    key: str
    host: str  # the FQDN asked for, with its trailing dot
    instances: set[str] = field(default_factory=set)
    ipv4: set[str] = field(default_factory=set)
    ipv6: set[str] = field(default_factory=set)
    heard_at: float | None = None  # wall time of the last record heard from it
    goodbye_at: float | None = None  # wall time of its goodbye, until it is heard again
    absent: bool = False
    misses: int = 0
    next_round: int = 0  # not asked before this round (backoff)
    #: In the baseline, or a sample already said it exists (never "new" again).
    reported: bool = False

    def addresses(self) -> dict[str, Scalar]:
        out: dict[str, Scalar] = {}
        if self.ipv4:
            out["ipv4"] = _joined(self.ipv4)
        if self.ipv6:
            out["ipv6"] = _joined(self.ipv6)
        return out


@dataclass
class _Batch:
    """What one response said about one device."""

    alive: bool = False
    families: dict[str, set[str]] = field(default_factory=dict)
    flush: set[str] = field(default_factory=set)  # families sent with the cache-flush bit
    address_goodbyes: set[str] = field(default_factory=set)
    service_goodbyes: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


class _Records(RecordUpdateListener):
    """zeroconf's hook: every record of every response, before and after the cache takes it."""

    def __init__(self, watch: MdnsWatch) -> None:
        super().__init__()
        self.watch = watch

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        # Runs inside zeroconf's packet handling: nothing may escape.
        with contextlib.suppress(Exception):
            self.watch._on_records([r.new for r in records])

    def async_update_records_complete(self) -> None:
        with contextlib.suppress(Exception):
            self.watch._on_complete()


@dataclass
class MdnsWatch:
    """The shared state of the listener and the re-browse: one zeroconf, the known devices."""

    interfaces: list[str | int] = field(default_factory=list)
    interval_s: float = 60.0
    timeout_s: float = 5.0
    floor_s: float = 10.0
    scale: float = 1.0
    types: list[str] = field(default_factory=list)
    max_devices: int = MAX_DEVICES
    #: An integrator's running zeroconf (not closed here).
    zeroconf: Zeroconf | None = None
    devices: dict[str, _Device] = field(default_factory=dict)
    dropped_devices: int = 0
    library_messages: list[str] = field(default_factory=list)
    _instances: dict[str, str] = field(default_factory=dict)  # instance (lower) -> device key
    _pending: dict[str, _Batch] = field(default_factory=dict)
    _emit: Callable[[Sample], None] | None = None
    _azc: AsyncZeroconf | None = None
    _hook: _Records | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _answered: asyncio.Event | None = None
    _waiting: set[str] = field(default_factory=set)
    _round: int = 0
    #: The first re-browse has ended: a device heard from now on is new.
    settled: bool = False
    _closed: bool = False
    _log: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        check_rate(NAME, self.interval_s, self.timeout_s, self.floor_s)
        if self.interval_s < MIN_REAL_INTERVAL_S:
            # Not even in a compressed lab: the responders' clock is not compressed.
            raise ConfigError(
                f"the mdns re-browse runs at most every {MIN_REAL_INTERVAL_S:g} s: responders "
                "hold back a record multicast less than a second ago (RFC 6762 section 6)"
            )

    # -- the baseline ----------------------------------------------------

    def seed(self, facts: MdnsFacts) -> None:
        """The devices the baseline run found (those with a host name), with their addresses."""
        for inst in facts.instances:
            if inst.host:
                device = self._device(inst.host)
                if device is not None:
                    device.ipv4.update(inst.ipv4[:MAX_ADDRESSES])
                    device.ipv6.update(inst.ipv6[:MAX_ADDRESSES])
                    self._instance(device, inst.name)
            self._type(inst.type)

    def _device(self, host: str) -> _Device | None:
        key = device_key(host)
        if not key:
            return None
        device = self.devices.get(key)
        if device is None:
            if len(self.devices) >= self.max_devices:
                self.dropped_devices += 1
                return None
            device = self.devices[key] = _Device(key, _fqdn(host))
            # Heard before the first re-browse ended: it was there when the watch
            # started, and the baseline browse missed it (a slow answer).
            device.reported = not self.settled
        return device

    def _instance(self, device: _Device, name: str) -> None:
        lower = name.lower()
        if lower in self._instances or len(device.instances) >= MAX_INSTANCES:
            return
        device.instances.add(lower)
        self._instances[lower] = device.key

    def _type(self, type_: str) -> None:
        if type_ and type_ not in self.types and len(self.types) < MAX_TYPES:
            self.types.append(type_)

    # -- zeroconf --------------------------------------------------------

    async def open(self) -> Zeroconf | None:
        """Start zeroconf (once) and hook into its responses; ``None`` once closed."""
        async with self._lock:
            if self._closed:
                return None
            if self._hook is None:
                # zeroconf's log records quote what devices sent: kept as data.
                self._log.enter_context(zeroconf_log_captured(self.library_messages))
                if self.zeroconf is None:
                    self._azc = (
                        AsyncZeroconf(interfaces=self.interfaces, ip_version=IPVersion.All)
                        if self.interfaces
                        else AsyncZeroconf()
                    )
                    self.zeroconf = self._azc.zeroconf
                self._hook = _Records(self)
                self.zeroconf.async_add_listener(self._hook, None)
            return self.zeroconf

    async def close(self) -> None:
        """Unhook, and close the zeroconf this opened."""
        async with self._lock:
            self._closed = True
            if self._hook is not None and self.zeroconf is not None:
                with contextlib.suppress(Exception):
                    self.zeroconf.async_remove_listener(self._hook)
            self._hook = None
            if self._azc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._azc.async_close(), 5.0)
                self._azc = None
            self._log.close()

    # -- what the link says ----------------------------------------------

    def _on_records(self, records: list[DNSRecord]) -> None:
        now = current_time_millis()
        # SRV first: they say which host an instance (and its PTR) belongs to.
        for record in records:
            if isinstance(record, DNSService) and not record.is_expired(now):
                device = self._device(record.server)
                if device is not None:
                    self._instance(device, record.name)
        for record in records:
            expired = record.is_expired(now)
            if isinstance(record, DNSAddress):
                device = self.devices.get(device_key(record.name))
                if device is None:
                    continue
                batch = self._pending.setdefault(device.key, _Batch())
                try:
                    family = "ipv6" if record.type == _TYPE_AAAA else "ipv4"
                    af = socket.AF_INET6 if family == "ipv6" else socket.AF_INET
                    address = socket.inet_ntop(af, record.address)
                except (OSError, ValueError):
                    continue
                if expired:
                    # A goodbye is TTL 0 (RFC 6762 10.1); zeroconf also hands over
                    # records it set to expire in a second (cache flush): not goodbyes.
                    if record.ttl == 0:
                        batch.address_goodbyes.add(address)
                    continue
                batch.alive = True
                batch.families.setdefault(family, set()).add(address)
                if record.unique:
                    batch.flush.add(family)
            elif isinstance(record, DNSService | DNSPointer):
                instance = record.alias if isinstance(record, DNSPointer) else record.name
                key = self._instances.get(instance.lower())
                if key is None:
                    continue
                batch = self._pending.setdefault(key, _Batch())
                if isinstance(record, DNSPointer) and not expired:
                    batch.types.add(record.name)
                if expired and isinstance(record, DNSService) and record.ttl == 0:
                    batch.service_goodbyes.add(instance.lower())
                elif not expired:
                    batch.alive = True
            elif not expired:
                key = self._instances.get(record.name.lower())
                if key is not None:
                    self._pending.setdefault(key, _Batch()).alive = True

    def _on_complete(self) -> None:
        pending, self._pending = self._pending, {}
        wall = time.time()
        for key, batch in pending.items():
            device = self.devices.get(key)
            if device is not None:
                self._apply(device, batch, wall)

    def _apply(self, device: _Device, batch: _Batch, wall: float) -> None:
        for type_ in batch.types:
            self._type(type_)
        changed = False
        for family, found in batch.families.items():
            current = device.ipv4 if family == "ipv4" else device.ipv6
            # A cache-flush record says "these are all of them" (RFC 6762 10.2).
            updated = set(found) if family in batch.flush else current | found
            updated = set(sorted(updated)[:MAX_ADDRESSES])
            if updated != current:
                changed = True
                current.clear()
                current.update(updated)
        for address in batch.address_goodbyes:
            for current in (device.ipv4, device.ipv6):
                if address in current:
                    current.discard(address)
        goodbye = not batch.alive and (
            (batch.address_goodbyes and not device.ipv4 and not device.ipv6)
            or (device.instances and batch.service_goodbyes >= device.instances)
        )
        new = not device.reported
        if goodbye:
            # Said once per departure, even by a device a round already missed.
            if device.goodbye_at is None:
                device.goodbye_at = wall
                device.absent = True
                self._send(device, wall, ok=False, source="goodbye")
            return
        if not batch.alive:
            return
        if device.goodbye_at is not None and wall - device.goodbye_at < GOODBYE_HOLD_S:
            # An answer to a question asked just before the goodbye, sent after it
            # (responders hold multicast answers back 20-120 ms): stale, not a return.
            return
        device.goodbye_at = None
        back = device.absent
        device.reported = True
        device.heard_at = wall
        device.absent = False
        device.misses = 0
        device.next_round = 0
        if device.key in self._waiting and self._answered is not None:
            self._waiting.discard(device.key)
            if not self._waiting:
                self._answered.set()
        if new or back or changed:
            extra: dict[str, Scalar] = {"new": True} if new else {}
            if batch.types:
                extra["type"] = sorted(batch.types)[0][:_STRING]
            self._send(device, wall, ok=True, source="announce", **extra)

    def mark_baseline(self) -> None:
        """Every device known now was present when the watch started (never "appeared")."""
        for device in self.devices.values():
            device.reported = True

    def _send(self, device: _Device, t: float, *, ok: bool, source: str, **extra: Scalar) -> None:
        if self._emit is None:
            return
        detail: dict[str, Scalar] = {"source": source, **device.addresses(), **extra}
        with contextlib.suppress(Exception):
            self._emit(Sample(t=t, sampler=NAME, key=device.key, ok=ok, detail=detail))

    # -- the re-browse ---------------------------------------------------

    def _missed(self, device: _Device) -> None:
        """A round without an answer: after ``BACKOFF_AFTER`` of them, ask half as often each time."""
        device.misses += 1
        device.absent = True
        if device.misses >= BACKOFF_AFTER:
            skip = min(2 ** (device.misses - BACKOFF_AFTER + 1), MAX_BACKOFF_ROUNDS)
            device.next_round = self._round + skip

    def _due(self) -> list[_Device]:
        return [d for d in self.devices.values() if d.next_round <= self._round]

    def _query(self, zc: Zeroconf, devices: list[_Device], *, browse: bool) -> None:
        out = DNSOutgoing(_FLAGS_QR_QUERY, multicast=True)
        for device in devices:
            out.add_question(DNSQuestion(device.host, _TYPE_A, _CLASS_IN))
            out.add_question(DNSQuestion(device.host, _TYPE_AAAA, _CLASS_IN))
        if browse:
            now = current_time_millis()
            for type_ in self.types:
                out.add_question(DNSQuestion(type_, _TYPE_PTR, _CLASS_IN))
                # Known answers (RFC 6762 7.1): devices already known stay quiet.
                for record in zc.cache.async_all_by_details(type_, _TYPE_PTR, _CLASS_IN):
                    if record.get_remaining_ttl(now) > record.ttl / 2:
                        out.add_answer_at_time(record, now)
        if out.questions:
            zc.async_send(out)

    async def rebrowse(self) -> list[Sample]:
        """One round: ask every due device; a sample per device asked."""
        zc = await self.open()
        if zc is None:
            return []
        self._round += 1
        devices = self._due()
        asked_at = time.time()
        loop = asyncio.get_running_loop()
        start = loop.time()
        wait = 0.9 * self.timeout_s
        self._waiting = {d.key for d in devices}
        self._answered = asyncio.Event()
        if not self._waiting:
            self._answered.set()
        try:
            self._query(zc, devices, browse=True)
            repeat_at = REPEAT_AFTER_S * self.scale
            if repeat_at < 0.6 * wait:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(repeat_at):
                        await self._answered.wait()
                missing = [d for d in devices if d.key in self._waiting]
                if missing:
                    self._query(zc, missing, browse=False)
            remaining = wait - (loop.time() - start)
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._answered.wait()
        except Exception as exc:  # noqa: BLE001 - a failed round is data, not a crash
            error = f"{type(exc).__name__}: {exc}"[:_STRING]
            return [
                Sample(
                    t=time.time(),
                    sampler=NAME,
                    key=d.key,
                    ok=False,
                    detail={"source": "rebrowse", "asked_at": asked_at, "error": error},
                )
                for d in devices
            ]
        finally:
            self._answered = None
        ended = time.time()
        self.settled = True
        samples = []
        for device in devices:
            # Heard since the question went out (or in the second before: a
            # responder does not multicast a record twice within a second, RFC
            # 6762 section 6), and no goodbye since.
            heard = (
                device.heard_at is not None
                and device.heard_at >= asked_at - MULTICAST_HOLD_S
                and device.goodbye_at is None
            )
            detail: dict[str, Scalar] = {
                "source": "rebrowse",
                "asked_at": asked_at,
                **device.addresses(),
            }
            value: float | None = None
            if heard:
                assert device.heard_at is not None  # noqa: S101 - heard implies it
                value = round(max(0.0, device.heard_at - asked_at) * 1000, 1)
            else:
                self._missed(device)
                detail["missed"] = device.misses
            samples.append(
                Sample(t=ended, sampler=NAME, key=device.key, ok=heard, value=value, detail=detail)
            )
        return samples


@dataclass
class MdnsListener:
    """The passive source: what the link says, as it says it (see :class:`MdnsWatch`)."""

    watch: MdnsWatch
    name: str = NAME

    async def listen(self, emit: Callable[[Sample], None], stop: asyncio.Event) -> None:
        self.watch._emit = emit
        try:
            await self.watch.open()
            await stop.wait()
        finally:
            self.watch._emit = None
            await self.watch.close()


@dataclass
class MdnsRebrowse:
    """The periodic re-query (see :class:`MdnsWatch`)."""

    watch: MdnsWatch
    name: str = NAME
    interval_s: float = field(init=False)
    timeout_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.interval_s, self.timeout_s = self.watch.interval_s, self.watch.timeout_s

    async def sample(self) -> list[Sample]:
        try:
            async with asyncio.timeout(self.watch.timeout_s + 1.0):
                return await self.watch.rebrowse()
        except TimeoutError:
            return []
        except Exception as exc:  # noqa: BLE001 - a round never ends the watch
            _note(self.watch.library_messages, f"re-browse failed: {type(exc).__name__}: {exc}")
            return []


def _interfaces(ctx: WatchContext) -> list[str | int]:
    choice: list[str | int] = []
    if ctx.observer.address:
        choice.append(ctx.observer.address)
    if ctx.observer.interface:
        with contextlib.suppress(OSError):
            choice.append(socket.if_nametoindex(ctx.observer.interface))
    return choice


def mdns_sources(ctx: WatchContext, *, zeroconf: Any = None) -> list[Sampler | Listener]:
    """The listener and the re-browse, watching the devices the baseline found (none if it did not run)."""
    facts = ctx.facts("mdns", MdnsFacts)
    if facts is None:
        return []
    watch = MdnsWatch(
        interfaces=_interfaces(ctx),
        interval_s=ctx.rates.interval(NAME),
        timeout_s=ctx.rates.timeout(NAME),
        floor_s=ctx.rates.floor(NAME),
        scale=ctx.rates.scale,
        zeroconf=getattr(zeroconf, "zeroconf", zeroconf),
    )
    watch.seed(facts)
    watch.mark_baseline()
    logging.getLogger(__name__).debug("watching %d mDNS devices", len(watch.devices))
    return [MdnsListener(watch), MdnsRebrowse(watch)]
