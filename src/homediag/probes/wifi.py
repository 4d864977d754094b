"""The ``wifi`` probe: the observer's Wi-Fi link, from the operating system's own tools.

One adapter per platform (see :mod:`homediag.wifi`): Linux ``iw`` with
``nmcli`` and ``/proc/net/wireless`` as fall-backs, macOS ``system_profiler``
(plus ``wdutil`` as root), Windows ``netsh``. It sends no packet. When the
observer looks from a wired interface, the probe is ``not_applicable``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.net.commands import CommandOutput, run_command
from homediag.net.oui import vendor
from homediag.runtime.context import ProbeContext
from homediag.runtime.probe import Probe, ProbeOutput
from homediag.wifi import linux, macos, windows
from homediag.wifi.radio import finish

__all__ = ["WifiProbe"]

#: Networks of the last scan kept in the bundle.
MAX_NEARBY = 64
_TIMEOUT = 5.0


class WifiProbe(Probe):
    """The Wi-Fi link: SSID, access point, band and channel, signal, noise, rates, retries."""

    name = "wifi"
    description = "The observer's Wi-Fi link: signal, noise, band, rates, retries (OS tools)."
    timeout = 10.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        platform = ctx.observer.platform
        evidence: dict[str, str] = {}
        facts = WifiFacts(platform=platform)
        if platform == "linux":
            await _linux(ctx, facts, evidence)
        elif platform == "darwin":
            await _macos(ctx, facts, evidence)
        elif platform == "win32":
            await _windows(ctx, facts, evidence)
        else:
            return ProbeOutput(
                facts=facts, summary=f"no Wi-Fi adapter for {platform}", status="not_applicable"
            )
        link = facts.link
        if link is None:
            where = ctx.observer.interface or "no interface"
            why = (
                "no wireless interface"
                if not facts.interfaces
                else f"wireless: {', '.join(facts.interfaces)}"
            )
            return ProbeOutput(
                facts=facts,
                summary=f"wired ({where}); {why}",
                status="not_applicable",
                evidence=evidence,
            )
        finish(link)
        if link.bssid:
            link.ap_vendor = await asyncio.to_thread(vendor, link.bssid)
        if link.connected and link.ssid:
            facts.same_ssid_bands = sorted(
                {n.band for n in facts.nearby if n.band and n.ssid == link.ssid}
                | ({link.band} if link.band else set())
            )
        return ProbeOutput(facts=facts, summary=_summary(link), evidence=evidence)


def _summary(link: WifiLink) -> str:
    if not link.connected:
        return f"{link.interface}: not connected"
    parts = [f"{link.interface}: {link.ssid or '(name hidden)'}"]
    if link.band:
        parts.append(f"{link.band} ch {link.channel or '?'}")
    if link.rssi_dbm is not None:
        parts.append(f"{link.rssi_dbm:.0f} dBm" + (" (est.)" if link.rssi_estimated else ""))
    if link.snr_db is not None:
        parts.append(f"SNR {link.snr_db:.0f} dB")
    if link.tx_rate_mbps is not None:
        parts.append(f"{link.tx_rate_mbps:g} Mbit/s")
    return ", ".join(parts)


async def _run(evidence: dict[str, str], *argv: str) -> CommandOutput:
    out = await run_command(*argv, timeout=_TIMEOUT)
    evidence[f"{'-'.join(a.strip('/-').replace('/', '_') for a in argv)[:60]}.txt"] = (
        out.as_evidence()
    )
    return out


def _select(names: list[str], observer: str | None) -> str | None:
    """The interface to report: the observer's own, when it is wireless."""
    return observer if observer in names else None


async def _linux(ctx: ProbeContext, facts: WifiFacts, evidence: dict[str, str]) -> None:
    observer = ctx.observer.interface
    dev = await _run(evidence, "iw", "dev")
    if dev.ok:
        facts.tools.append("iw")
        interfaces = linux.parse_iw_dev(dev.stdout)
        facts.interfaces = [i.name for i in interfaces]
        name = _select(facts.interfaces, observer)
        if name is None:
            return
        iface = next(i for i in interfaces if i.name == name)
        link_out, station, survey, scan = await asyncio.gather(
            _run(evidence, "iw", "dev", name, "link"),
            _run(evidence, "iw", "dev", name, "station", "dump"),
            _run(evidence, "iw", "dev", name, "survey", "dump"),
            _run(evidence, "iw", "dev", name, "scan", "dump"),
        )
        link = linux.parse_iw_link(link_out.stdout, name, unread=facts.unread)
        if link.connected:
            linux.parse_iw_station_dump(station.stdout, link)
            link.noise_dbm = linux.parse_iw_survey_noise(survey.stdout)
            link.channel = iface.channel
            link.width_mhz = iface.width_mhz or link.width_mhz
            link.frequency_mhz = link.frequency_mhz or iface.frequency_mhz
        facts.link = link
        facts.nearby = linux.parse_iw_scan_dump(scan.stdout)[:MAX_NEARBY]
        if iface.phy:
            phy = await _run(evidence, "iw", "phy", iface.phy, "info")
            facts.supported_bands = linux.parse_iw_phy_bands(phy.stdout)
        return
    # No iw: NetworkManager's view, then the kernel's wireless extensions.
    if observer is None:
        return
    proc = await asyncio.to_thread(_read_proc_wireless)
    if proc is not None:
        evidence["proc-net-wireless.txt"] = proc
    levels = linux.parse_proc_net_wireless(proc or "")
    fields = "ACTIVE,SSID,BSSID,CHAN,FREQ,RATE,SIGNAL,SECURITY"
    # nmcli refuses an interface that is not a Wi-Fi device: a wired observer.
    nm = await _run(
        evidence,
        "nmcli",
        "-t",
        "-f",
        fields,
        "device",
        "wifi",
        "list",
        "ifname",
        observer,
        "--rescan",
        "no",
    )
    found: WifiLink | None = None
    if nm.ok:
        facts.tools.append("nmcli")
        listing = linux.parse_nmcli_wifi_list(nm.stdout, observer)
        facts.nearby = listing.nearby[:MAX_NEARBY]
        found = listing.active or WifiLink(interface=observer, connected=False)
    if observer in levels:
        facts.tools.append("/proc/net/wireless")
        level, noise = levels[observer]
        found = found or WifiLink(interface=observer, connected=level is not None)
        if level is not None:
            found.rssi_dbm, found.rssi_estimated = level, False
        found.noise_dbm = noise
    facts.interfaces = sorted(set(levels) | ({observer} if nm.ok else set()))
    facts.link = found


def _read_proc_wireless() -> str | None:
    try:
        return Path("/proc/net/wireless").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


async def _macos(ctx: ProbeContext, facts: WifiFacts, evidence: dict[str, str]) -> None:
    out = await _run(evidence, "system_profiler", "SPAirPortDataType", "-json")
    if not out.ok:
        return
    facts.tools.append("system_profiler")
    try:
        report = macos.parse_system_profiler(out.stdout, unread=facts.unread)
    except ValueError:
        return
    facts.interfaces = report.interfaces
    facts.supported_bands = report.supported_bands
    facts.nearby = report.nearby[:MAX_NEARBY]
    link = report.link
    if link is None or _select(facts.interfaces, ctx.observer.interface) is None:
        return
    if ctx.observer.privileged and link.connected:
        wd = await _run(evidence, "wdutil", "info")
        if wd.ok:
            facts.tools.append("wdutil")
            macos.parse_wdutil(wd.stdout, link, unread=facts.unread)
    facts.link = link


async def _windows(ctx: ProbeContext, facts: WifiFacts, evidence: dict[str, str]) -> None:
    out = await _run(evidence, "netsh", "wlan", "show", "interfaces")
    if not out.ok:
        return
    facts.tools.append("netsh")
    links = windows.parse_netsh_interfaces(out.stdout, unread=facts.unread)
    facts.interfaces = [link.interface for link in links]
    name = _select(facts.interfaces, ctx.observer.interface)
    if name is None:
        return
    facts.link = next(link for link in links if link.interface == name)
    networks = await _run(evidence, "netsh", "wlan", "show", "networks", "mode=bssid")
    if networks.ok:
        facts.nearby = windows.parse_netsh_networks(networks.stdout)[:MAX_NEARBY]
