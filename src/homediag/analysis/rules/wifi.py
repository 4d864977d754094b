"""Rules about the observer's Wi-Fi link: signal, signal-to-noise, retries, band."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homediag.analysis.base import probe_facts
from homediag.analysis.catalog import spec
from homediag.facts.wifi import WifiFacts, WifiLink
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

__all__ = ["SIGNAL_BANDS", "analyze", "signal_quality"]

#: Signal bands in dBm: at or above each floor, the link is that good.
SIGNAL_BANDS: tuple[tuple[float, str], ...] = ((-60.0, "good"), (-67.0, "ok"), (-75.0, "weak"))
#: Below this signal-to-noise ratio (dB) rates drop and retries climb.
SNR_WARNING_DB = 20.0
#: Retries per transmitted packet, in %: warning and critical.
RETRY_WARNING_PCT = 10.0
RETRY_CRITICAL_PCT = 30.0
#: Fewer packets than this say nothing about the retry rate.
RETRY_MIN_PACKETS = 200

#: What every Wi-Fi finding quotes about the link.
WIFI_EVIDENCE = ("interface", "band", "channel", "rssi_dbm", "rssi_estimated_from_percent")

SIGNAL_WEAK = spec(
    "wifi.signal_weak",
    severity="warning",
    probe="wifi",
    evidence=(*WIFI_EVIDENCE, "quality"),
    title="Weak Wi-Fi signal where the diagnosis ran",
    meaning="""The signal is between -75 and -67 dBm: the link works but slowly and with retries;
    video calls, cameras and firmware updates suffer, and devices nearby likely see the same.""",
    remediation="""Move the access point (or add a mesh node) closer, out of cabinets and away from
    metal and aquariums; for a fixed device, use a wired link or a 2.4 GHz-capable extender.""",
)
SIGNAL_POOR = spec(
    "wifi.signal_poor",
    severity="critical",
    probe="wifi",
    evidence=(*WIFI_EVIDENCE, "quality"),
    title="Poor Wi-Fi signal where the diagnosis ran",
    meaning="""The signal is below -75 dBm: connections drop and devices here appear "offline"
    intermittently, whatever else is right.""",
    remediation="""Add an access point or mesh node near this spot, or cable the device; re-run
    homediag next to the device that has problems, not elsewhere.""",
)
LOW_SNR = spec(
    "wifi.low_snr",
    severity="warning",
    probe="wifi",
    evidence=(*WIFI_EVIDENCE, "noise_dbm", "snr_db"),
    title="Low signal-to-noise ratio",
    meaning="""The signal is less than 20 dB above the noise: interference (neighbours' networks,
    microwave ovens, baby monitors, USB 3 ports) forces low rates and retries even with a decent
    signal.""",
    remediation="""Change the access point's channel to a less busy one (1, 6 or 11 on 2.4 GHz; a
    non-DFS or DFS channel on 5 GHz) and narrow 2.4 GHz to 20 MHz; move interfering gear away.""",
)
HIGH_RETRIES = spec(
    "wifi.high_retries",
    severity="warning",
    probe="wifi",
    evidence=(*WIFI_EVIDENCE, "tx_packets", "tx_retries", "tx_failed", "retry_rate_pct"),
    title="Many Wi-Fi retransmissions",
    meaning="""A large share of frames had to be sent again: the air is congested or noisy, or the
    signal is marginal. Latency-sensitive traffic (voice, MQTT keep-alives) stalls.""",
    remediation="""Check the channel plan (avoid overlap with neighbours), reduce the number of
    2.4 GHz networks broadcasting here, and improve the signal (see the signal findings).""",
)
BAND_24_ONLY = spec(
    "wifi.band_24_only",
    severity="warning",
    probe="wifi",
    evidence=(*WIFI_EVIDENCE, "same_ssid_bands", "best_5ghz_dbm"),
    title="Connected on 2.4 GHz although 5 GHz is available",
    meaning="""This computer uses the crowded 2.4 GHz band while the same network is also offered
    on 5 GHz: slower, more interference, and measurements here understate what the network can
    do. (Most smart-home devices are 2.4 GHz only; that is fine for them.)""",
    remediation="""Enable band steering on the access point, or connect the computer to the 5 GHz
    network explicitly; check that the adapter's 5 GHz band is not disabled in its driver settings.""",
)


def signal_quality(rssi_dbm: float) -> str:
    """``good`` (≥ -60 dBm), ``ok`` (≥ -67), ``weak`` (≥ -75) or ``poor``."""
    for floor, name in SIGNAL_BANDS:
        if rssi_dbm >= floor:
            return name
    return "poor"


def _evidence(link: WifiLink, **extra: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "interface": link.interface,
        "band": link.band,
        "channel": link.channel,
        "rssi_dbm": link.rssi_dbm,
    }
    if link.rssi_estimated:
        evidence["rssi_estimated_from_percent"] = link.signal_percent
    return evidence | extra


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """Findings about the Wi-Fi link the diagnosis ran over."""
    facts = probe_facts(bundle, "wifi", WifiFacts)
    if facts is None or facts.link is None or not facts.link.connected:
        return
    link = facts.link
    estimated = " (estimated from the signal percentage)" if link.rssi_estimated else ""
    if link.rssi_dbm is not None:
        quality = signal_quality(link.rssi_dbm)
        detail = (
            f"Signal {link.rssi_dbm:.0f} dBm{estimated} on {link.band or 'an unknown band'}, "
            f"channel {link.channel or '?'}."
        )
        if quality == "weak":
            yield SIGNAL_WEAK.make(detail, _evidence(link, quality=quality))
        elif quality == "poor":
            yield SIGNAL_POOR.make(detail, _evidence(link, quality=quality))
    if link.snr_db is not None and link.snr_db < SNR_WARNING_DB:
        yield LOW_SNR.make(
            f"Signal {link.rssi_dbm:.0f} dBm over noise {link.noise_dbm:.0f} dBm: SNR {link.snr_db:.0f} dB "
            f"(below {SNR_WARNING_DB:.0f} dB).",
            _evidence(link, noise_dbm=link.noise_dbm, snr_db=link.snr_db),
        )
    if (
        link.retry_rate_pct is not None
        and (link.tx_packets or 0) >= RETRY_MIN_PACKETS
        and link.retry_rate_pct >= RETRY_WARNING_PCT
    ):
        yield HIGH_RETRIES.make(
            f"{link.tx_retries} retries for {link.tx_packets} frames sent ({link.retry_rate_pct:.0f} %)"
            + (f", {link.tx_failed} failed." if link.tx_failed else "."),
            _evidence(
                link,
                tx_packets=link.tx_packets,
                tx_retries=link.tx_retries,
                tx_failed=link.tx_failed,
                retry_rate_pct=link.retry_rate_pct,
            ),
            severity="critical" if link.retry_rate_pct >= RETRY_CRITICAL_PCT else "warning",
        )
    five_ok = not facts.supported_bands or "5 GHz" in facts.supported_bands
    if link.band == "2.4 GHz" and "5 GHz" in facts.same_ssid_bands and five_ok:
        seen = [n for n in facts.nearby if n.ssid == link.ssid and n.band == "5 GHz"]
        best = max((n.rssi_dbm for n in seen if n.rssi_dbm is not None), default=None)
        yield BAND_24_ONLY.make(
            f"Connected on 2.4 GHz channel {link.channel or '?'}; the same network is visible on 5 GHz"
            + (f" at {best:.0f} dBm." if best is not None else "."),
            _evidence(link, same_ssid_bands=facts.same_ssid_bands, best_5ghz_dbm=best),
        )
