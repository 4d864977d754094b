"""The ``wifi`` sampler: the observer's Wi-Fi link every few seconds, from the OS's cheap tools.

The same tools and parsers as the ``wifi`` probe (:mod:`homediag.wifi`),
but only the ones cheap enough for a 5 s loop; nothing here sends a packet.

- Linux: ``iw dev IF link`` (signal, BSSID, frequency, rates), plus
  ``/proc/net/wireless`` for the noise (a file read); ``iw dev`` only when a
  multi-link (MLO) association names no single frequency.
- macOS as root: ``wdutil info`` (RSSI, noise, rate, channel; BSSID unless
  macOS withholds it). Without root: ``system_profiler SPAirPortDataType
  -json``, which takes seconds and a core while it runs, so the sampler then
  runs at most every :data:`SYSTEM_PROFILER_FLOOR_S` (30 s, scaled) and gives
  it up to 15 s; macOS 12 and later print no BSSID there, so roams show as
  channel changes or not at all.
- Windows: ``netsh wlan show interfaces`` (signal is a percentage: the dBm is
  Windows' own conversion, marked estimated).

One sample per round: key = the interface, value = the signal in dBm, detail
= ``connected``, ``bssid``, ``channel``, ``band``, ``rate`` (TX Mbit/s),
``noise``, ``ssid`` (a name the bundle redacts; stored raw like every name).
A disconnected link is ``ok=False`` with ``connected=False``; a round whose
tool failed is ``ok=False`` with ``error`` and no ``connected`` (it says
nothing about the link).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.model.timeline import Sample, Scalar
from homediag.net.commands import CommandOutput, run_command
from homediag.recording.context import WatchContext
from homediag.recording.samplers import Listener, Sampler, check_rate
from homediag.wifi import linux, macos, windows
from homediag.wifi.radio import finish

__all__ = [
    "SYSTEM_PROFILER_FLOOR_S",
    "WifiSampler",
    "from_iw_link",
    "from_netsh",
    "from_system_profiler",
    "from_wdutil",
    "link_sample",
    "wifi_samplers",
]

#: ``system_profiler`` takes 2-10 s of a core: never more often than this (seconds, scale 1).
SYSTEM_PROFILER_FLOOR_S = 30.0
_SYSTEM_PROFILER_TIMEOUT_S = 15.0
_MAX_TEXT = 256


def _clip(value: str | None) -> str | None:
    return value[:_MAX_TEXT] if value else None


def link_sample(t: float, key: str, link: WifiLink | None, tool: str) -> Sample:
    """The sample of one reading of the link (``None``: the interface is not there)."""
    detail: dict[str, Scalar] = {"tool": tool}
    if link is None:
        detail.update(connected=False, reason="no such wireless interface")
        return Sample(t=t, sampler="wifi", key=key, ok=False, detail=detail)
    finish(link)
    detail["connected"] = link.connected
    if not link.connected:
        return Sample(t=t, sampler="wifi", key=key, ok=False, detail=detail)
    values: dict[str, Scalar] = {
        "bssid": _clip(link.bssid),
        "channel": link.channel,
        "band": link.band,
        "frequency": link.frequency_mhz,
        "rate": link.tx_rate_mbps,
        "noise": link.noise_dbm,
        "ssid": _clip(link.ssid),
        "estimated": link.rssi_estimated or None,
    }
    # What the tool did not say is left out (the store keeps one row a round).
    detail.update({k: v for k, v in values.items() if v is not None})
    return Sample(t=t, sampler="wifi", key=key, ok=True, value=link.rssi_dbm, detail=detail)


def _failed(t: float, key: str, tool: str, error: str) -> Sample:
    return Sample(
        t=t,
        sampler="wifi",
        key=key,
        ok=False,
        detail={"tool": tool, "error": error.splitlines()[0][:_MAX_TEXT] if error else "failed"},
    )


def _iw_link(interface: str, text: str, proc_wireless: str | None) -> WifiLink:
    link = linux.parse_iw_link(text, interface)
    if link.connected and proc_wireless:
        levels = linux.parse_proc_net_wireless(proc_wireless)
        link.noise_dbm = levels.get(interface, (None, None))[1]
    return link


def from_iw_link(
    t: float, interface: str, text: str, *, proc_wireless: str | None = None
) -> Sample:
    """``iw dev IF link`` (and ``/proc/net/wireless`` for the noise) as a sample."""
    return link_sample(t, interface, _iw_link(interface, text, proc_wireless), "iw")


def from_wdutil(t: float, interface: str, text: str) -> Sample:
    """``wdutil info`` (macOS, root) as a sample."""
    if not re.search(r"^\s*WIFI\s*$", text, re.MULTILINE):
        # Not the layout it reads (no WIFI section): a failed round, not a link.
        return _failed(t, interface, "wdutil", "wdutil printed no WIFI section")
    link = macos.parse_wdutil(text, WifiLink(interface=interface, connected=True))
    return link_sample(t, interface, link, "wdutil")


def from_system_profiler(t: float, interface: str, text: str) -> Sample:
    """``system_profiler SPAirPortDataType -json`` (macOS) as a sample."""
    try:
        report = macos.parse_system_profiler(text)
    except ValueError:
        return _failed(t, interface, "system_profiler", "system_profiler printed no JSON")
    link = report.link if report.link is not None and report.link.interface == interface else None
    if link is None and interface in report.interfaces:
        link = WifiLink(interface=interface, connected=False)
    return link_sample(t, interface, link, "system_profiler")


def from_netsh(t: float, interface: str, text: str) -> Sample:
    """``netsh wlan show interfaces`` (Windows) as a sample.

    An interface missing from the list is a lost link: the adapter was
    removed or switched off, or the WLAN service stopped (netsh then prints
    one sentence in the system's language); either way there is no Wi-Fi.
    """
    links = windows.parse_netsh_interfaces(text)
    link = next((link for link in links if link.interface == interface), None)
    if link is None and not links and not text.strip():
        return _failed(t, interface, "netsh", "netsh printed nothing")
    return link_sample(t, interface, link, "netsh")


def _read_proc_wireless() -> str | None:
    try:
        return Path("/proc/net/wireless").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def _gone(out: CommandOutput) -> bool:
    """``iw`` on an interface that vanished (a USB adapter pulled, a driver reset)."""
    return "No such device" in out.stderr or "No such device" in out.stdout


@dataclass
class WifiSampler:
    """One reading of the Wi-Fi link per round (see the module's docstring for the tools)."""

    MIN_INTERVAL_S: ClassVar[float] = 1.0

    interface: str
    platform: str = "linux"
    interval_s: float = 5.0
    timeout_s: float = 4.0
    #: macOS: ``wdutil`` needs root; without it the sampler reads system_profiler.
    privileged: bool = False
    name: str = "wifi"
    min_interval_s: float = MIN_INTERVAL_S
    _tool: str = field(init=False, default="")

    def __post_init__(self) -> None:
        check_rate(self.name, self.interval_s, self.timeout_s, self.min_interval_s)
        if self.platform == "linux":
            self._tool = "iw"
        elif self.platform == "darwin":
            self._tool = "wdutil" if self.privileged else "system_profiler"
        elif self.platform == "win32":
            self._tool = "netsh"
        else:
            raise ValueError(f"no Wi-Fi sampler for {self.platform}")

    @property
    def tool(self) -> str:
        """The command each round runs."""
        return self._tool

    async def sample(self) -> list[Sample]:
        t = time.time()
        try:
            async with asyncio.timeout(self.timeout_s):
                return [await self._read(t)]
        except TimeoutError:
            return [_failed(t, self.interface, self._tool, "round timed out")]

    async def _read(self, t: float) -> Sample:
        # A command's own bound is a little shorter than the round's.
        bound = max(self.timeout_s * 0.9, 0.05)
        if self._tool == "iw":
            return await self._iw(t, bound)
        if self._tool == "netsh":
            out = await run_command("netsh", "wlan", "show", "interfaces", timeout=bound)
            if not out.ok and not out.stdout.strip():
                return _failed(t, self.interface, "netsh", out.error or out.stderr)
            return from_netsh(t, self.interface, out.stdout)
        if self._tool == "wdutil":
            out = await run_command("wdutil", "info", timeout=bound)
            if not out.ok:
                return _failed(t, self.interface, "wdutil", out.error or out.stderr)
            return from_wdutil(t, self.interface, out.stdout)
        out = await run_command("system_profiler", "SPAirPortDataType", "-json", timeout=bound)
        if not out.ok:
            return _failed(t, self.interface, "system_profiler", out.error or out.stderr)
        return from_system_profiler(t, self.interface, out.stdout)

    async def _iw(self, t: float, bound: float) -> Sample:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        out = await run_command("iw", "dev", self.interface, "link", timeout=bound)
        if not out.ok:
            if _gone(out):
                return link_sample(t, self.interface, None, "iw")
            return _failed(t, self.interface, "iw", out.error or out.stderr or "iw failed")
        proc = await asyncio.to_thread(_read_proc_wireless)
        link = _iw_link(self.interface, out.stdout, proc)
        left = deadline - loop.time()
        if link.connected and link.frequency_mhz is None and link.channel is None and left > 0.05:
            # A multi-link association: iw dev names the active link's channel (in what
            # is left of the round; without it the sample has no channel, nothing worse).
            dev = await run_command("iw", "dev", timeout=left)
            for iface in linux.parse_iw_dev(dev.stdout) if dev.ok else []:
                if iface.name == self.interface and iface.channel is not None:
                    link.channel, link.frequency_mhz = iface.channel, iface.frequency_mhz
        return link_sample(t, self.interface, link, "iw")


def wifi_samplers(ctx: WatchContext) -> list[Sampler | Listener]:
    """One sampler for the observer's Wi-Fi link, when the baseline found it associated."""
    facts = ctx.facts("wifi", WifiFacts)
    if facts is None or facts.link is None or not facts.link.connected:
        return []
    if facts.platform not in ("linux", "darwin", "win32"):
        return []
    interval = ctx.rates.interval("wifi")
    timeout = ctx.rates.timeout("wifi")
    floor = ctx.rates.floor("wifi")
    if facts.platform == "darwin" and not ctx.privileged:
        scaled_floor = SYSTEM_PROFILER_FLOOR_S * ctx.rates.scale
        interval = max(interval, scaled_floor)
        floor = max(floor, scaled_floor)
        timeout = min(0.8 * interval, _SYSTEM_PROFILER_TIMEOUT_S * ctx.rates.scale)
    return [
        WifiSampler(
            facts.link.interface,
            platform=facts.platform,
            interval_s=interval,
            timeout_s=timeout,
            privileged=ctx.privileged,
            min_interval_s=floor,
        )
    ]
