"""A realistic watch timeline, made the way ``watch report`` makes one: samples in a store, then build_timeline.

An evening of one hour at 1 Hz to the router (synthetic timestamps, real
store, real gateway detector, real correlator and cause rules): the router
drops for 6 s while a resolver and the internet fail with it, the laptop
roams to another access point and nine devices vanish from mDNS, the broker
restarts and three Zigbee devices go unavailable, a device appears. The
other areas' detectors are built in parallel (issue 14), so their events are
written as the contract shapes them, through the same store.

Used by the rendering, findings and redaction tests.
"""

from __future__ import annotations

import math
from pathlib import Path

from homediag.model.timeline import Event, Sample, Scalar, Timeline
from homediag.timeline.build import build_timeline
from homediag.timeline.detectors import GatewayDetector, event_key
from homediag.timeline.store import Store

#: 2026-11-22 18:00:00 UTC, the evening the timeline starts.
T0 = 1_795_370_400.0
SPAN = 3600
GATEWAY = "192.168.77.1"
#: The access points the laptop roamed between (one spelled as Cisco does).
BSSID_FROM = "3c:84:6a:11:22:33"
BSSID_TO = "3C84.6A44.5566"
#: Devices only the timeline names (they vanished; the snapshot never saw them).
VANISHED = [f"shelly-plug-{n:02d}.local" for n in range(8)] + [
    "Kitchen speaker._googlecast._tcp.local"
]
ZIGBEE = ["zigbee2mqtt/Hall lamp", "zigbee2mqtt/Door sensor", "zigbee2mqtt/Bedroom plug"]
OUTAGE = (1200, 1206)  # the router lost, seconds after T0
ROAM_AT = 1800
RESTART_AT = 3000


def _rtt(i: int) -> float:
    """A quiet link: 1.5 to 3 ms with a slow wobble, no spikes."""
    return round(2.2 + 0.6 * math.sin(i / 37.0) + 0.15 * ((i * 7919) % 11) / 11, 3)


def _contract_event(  # noqa: PLR0917 - the contract's fields, in its order
    kind: str,
    subject: str,
    start: float,
    end: float | None,
    summary: str,
    severity: str = "warning",
    **evidence: Scalar,
) -> Event:
    return Event(
        kind=kind,
        subject=subject,
        start=T0 + start,
        end=T0 + (start if end is None else end),
        severity=severity,  # type: ignore[arg-type]
        summary=summary,
        evidence=evidence,
    )


def evening_store(path: Path) -> Path:
    """Write the evening into a new store at ``path``."""
    detector = GatewayDetector()
    ids: dict[tuple[str, str, float], int] = {}
    with Store.create(path, clock=lambda: T0) as store:
        for i in range(SPAN):
            lost = OUTAGE[0] <= i < OUTAGE[1]
            sample = Sample(
                t=T0 + i,
                sampler="gateway",
                key=GATEWAY,
                ok=not lost,
                value=None if lost else _rtt(i),
            )
            store.add_sample(sample)
            for event in detector.feed(sample):
                key = event_key(event)
                if key in ids:
                    store.update_event(ids[key], event)
                else:
                    ids[key] = store.add_event(event)
            if i % 10 == 0:
                for resolver, base in ((GATEWAY, 4.0), ("9.9.9.9", 18.0)):
                    down = resolver == GATEWAY and OUTAGE[0] <= i <= OUTAGE[1] + 4
                    store.add_sample(
                        Sample(
                            t=T0 + i + 0.5,
                            sampler="dns",
                            key=resolver,
                            ok=not down,
                            value=None if down else base + (i % 7),
                        )
                    )
        for event in detector.close(T0 + SPAN):
            key = event_key(event)
            if key in ids:
                store.update_event(ids[key], event)
        others = [
            _contract_event(
                "mdns.device_appeared",
                "hue-bridge-6a2b3c.local",
                420,
                None,
                "hue-bridge-6a2b3c.local appeared (192.168.77.30)",
                "info",
                address="192.168.77.30",
            ),
            _contract_event(
                "dns.resolver_down",
                GATEWAY,
                1201,
                1210,
                f"resolver {GATEWAY} failed 1 round in a row",
                rounds=1,
            ),
            _contract_event(
                "internet.down",
                "internet",
                1202,
                1208,
                "every internet target failed",
                targets=3,
            ),
            _contract_event(
                "wifi.roamed",
                "wlan0",
                ROAM_AT,
                None,
                f"roamed from {BSSID_FROM} to {BSSID_TO}",
                "info",
                from_bssid=BSSID_FROM,
                to_bssid=BSSID_TO,
                channel=36,
            ),
            *(
                _contract_event(
                    "mdns.device_vanished",
                    name,
                    ROAM_AT + 3 + n,
                    ROAM_AT + 50,
                    f"{name} stopped answering mDNS",
                    last_address=f"192.168.77.{40 + n}",
                )
                for n, name in enumerate(VANISHED)
            ),
            _contract_event(
                "mqtt.broker_restarted",
                "192.168.77.5:1883",
                RESTART_AT,
                None,
                "the broker restarted (uptime went from 86400 s to 3 s)",
                uptime_before_s=86400,
                uptime_after_s=3,
            ),
            *(
                _contract_event(
                    "mqtt.device_unavailable",
                    topic,
                    RESTART_AT + 2,
                    RESTART_AT + 50,
                    f"{topic} reported offline",
                )
                for topic in ZIGBEE
            ),
        ]
        for event in others:
            store.add_event(event)
    return path


def evening(tmp_path: Path) -> Timeline:
    """The evening's timeline, as ``watch report`` would build it from the store."""
    path = tmp_path / "evening.db"
    if not path.exists():
        evening_store(path)
    with Store.resume(path, clock=lambda: T0 + SPAN) as store:
        return build_timeline(store)


def quiet_hour(tmp_path: Path) -> Timeline:
    """A healthy home watched for an hour: samples, no event."""
    path = tmp_path / "quiet.db"
    with Store.create(path, clock=lambda: T0) as store:
        for i in range(SPAN):
            store.add_sample(
                Sample(t=T0 + i, sampler="gateway", key=GATEWAY, ok=True, value=_rtt(i))
            )
        return build_timeline(store)
