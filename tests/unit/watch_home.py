"""A watched home as the recorder would feed it to the live state: real-shaped samples and events.

Fifteen minutes at the default rates (gateway 1 s, DNS 10 s, Wi-Fi 5 s,
mDNS and MQTT each minute), with a five-second gateway outage at 400 s, a
latency spike at 600 s, a roam at 501 s and a Hue bridge gone at 540 s.
Sample shapes follow the contract (docs/watch-design.md and the samplers'
briefs): values in ms or dBm, Wi-Fi detail bssid/channel/rate, MQTT keys
``broker``, ``z2m``, ``z2m/<device>``, ``ha``.
"""

from __future__ import annotations

from homediag.model.timeline import Event, Incident, Sample
from homediag.recording.live import LiveState
from homediag.recording.rates import Rates

T0 = 1_780_000_000.0
GATEWAY = "192.168.1.1"
OUTAGE = range(400, 405)
SPIKE = range(600, 604)
END = 899.5


def gateway_rtt(i: int) -> float | None:
    """The gateway's RTT at second ``i`` (None: lost)."""
    if i in OUTAGE or i in (700, 702):
        return None
    return 2.0 + (i % 7) * 0.3 + (60.0 if i in SPIKE else 0.0)


def outage_event(*, closed: bool) -> Event:
    start = T0 + OUTAGE.start
    return Event(
        kind="gateway.unreachable",
        subject=GATEWAY,
        start=start,
        end=start + len(OUTAGE) if closed else None,
        severity="critical",
        summary=(
            f"{GATEWAY} did not answer 5 pings in 5.0 s"
            if closed
            else f"{GATEWAY} stopped answering pings"
        ),
        evidence={"lost": 5},
    )


def incident(*, closed: bool) -> Incident:
    return Incident(
        id="inc-1",
        start=T0 + OUTAGE.start,
        end=T0 + OUTAGE.stop if closed else None,
        events=[0],
        kinds=["gateway.unreachable"],
        summary="The router stopped answering for 5 s",
    )


ROAM = Event(
    kind="wifi.roamed",
    subject="wlan0",
    start=T0 + 501,
    end=T0 + 501,
    summary="wlan0 roamed from aa:bb:cc:dd:ee:01 to aa:bb:cc:dd:ee:02",
    evidence={"from_bssid": "aa:bb:cc:dd:ee:01", "to_bssid": "aa:bb:cc:dd:ee:02"},
)
VANISHED = Event(
    kind="mdns.device_vanished",
    subject="Hue Bridge 3",
    start=T0 + 540,
    summary="Hue Bridge 3 stopped answering mDNS",
)


def home_state(rates: Rates | None = None, *, started: bool = True, until: int = 900) -> LiveState:
    """A LiveState fed with the home's first ``until`` seconds (see the module docstring)."""
    state = LiveState(
        started_at=T0 if started else None,
        store="/home/pi/watch/home-2026-12-01T1740.watch.db",
        rates=rates,
    )
    for i in range(until):
        t = T0 + i
        rtt = gateway_rtt(i)
        state.on_sample(Sample(t=t, sampler="gateway", key=GATEWAY, ok=rtt is not None, value=rtt))
        if i == OUTAGE.start:
            state.on_event(outage_event(closed=False))
            state.on_incident(incident(closed=False))
        if i == OUTAGE.stop:
            state.on_event(outage_event(closed=True))
            state.on_incident(incident(closed=True))
        if i == 501:
            state.on_event(ROAM)
        if i == 540:
            state.on_event(VANISHED)
        if i % 10 == 0:
            for resolver, ms in ((GATEWAY, 14.0), ("1.1.1.1", 21.5)):
                state.on_sample(Sample(t=t, sampler="dns", key=resolver, ok=True, value=ms))
        if i % 5 == 0:
            bssid = "aa:bb:cc:dd:ee:02" if i > 500 else "aa:bb:cc:dd:ee:01"
            detail = {"bssid": bssid, "channel": 36, "rate": "866.7 MBit/s", "noise": -92}
            state.on_sample(
                Sample(t=t, sampler="wifi", key="wlan0", ok=True, value=-58.0, detail=detail)
            )
        if i % 60 == 0:
            for d in range(12):
                ok = not (d == 3 and i > 540)
                state.on_sample(Sample(t=t, sampler="mdns", key=f"Hue Bridge {d}", ok=ok))
            state.on_sample(
                Sample(
                    t=t, sampler="mqtt", key="broker", ok=True, value=3.0, detail={"clients": 14}
                )
            )
            state.on_sample(Sample(t=t, sampler="mqtt", key="z2m", ok=True))
            for d in range(20):
                state.on_sample(Sample(t=t, sampler="mqtt", key=f"z2m/lamp{d}", ok=d != 4))
            state.on_sample(Sample(t=t, sampler="mqtt", key="ha", ok=True))
    return state
