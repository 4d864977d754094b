"""How often each sampler runs, and the one knob that compresses time in the lab.

Every interval, and the floors no configuration may go below, come from
:class:`Rates`. ``scale`` multiplies both: the lab runs ``scale=0.1`` (a
gateway ping every 100 ms) against its own namespaces, so a ten-minute
watch takes a minute while every packet stays real. Detector windows count
samples, not seconds, so they need no scaling. A scale below 1 is refused
unless ``compressed=True`` says the targets are a lab's (see
docs/watch-design.md, "Time compressed in the lab").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from homediag.errors import ConfigError

__all__ = ["DEFAULT_INTERVALS_S", "FLOORS_S", "Rates"]

#: Seconds between two rounds of each sampler at ``scale=1`` (the issue's defaults).
DEFAULT_INTERVALS_S: dict[str, float] = {
    "gateway": 1.0,
    "dns": 10.0,
    "internet": 30.0,
    "wifi": 5.0,
    "mdns": 60.0,  # the periodic re-browse; announcements and goodbyes arrive as they happen
    "neighbours": 30.0,
    "mqtt": 10.0,  # the $SYS poll of a connected client; topics arrive as they are published
    "endpoints": 60.0,
    "observer": 10.0,
}

#: No configuration goes faster than this (seconds, at ``scale=1``): ICMP at
#: five a second is a flood, DNS more than once a second a load, HTTP a scan.
FLOORS_S: dict[str, float] = {
    "gateway": 0.2,
    "dns": 1.0,
    "internet": 5.0,
    "wifi": 1.0,
    "mdns": 10.0,
    "neighbours": 5.0,
    "mqtt": 1.0,
    "endpoints": 5.0,
    "observer": 1.0,
}


@dataclass(frozen=True)
class Rates:
    """Intervals per sampler (seconds), optionally overridden, all multiplied by ``scale``."""

    scale: float = 1.0
    compressed: bool = False
    overrides: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.scale) or self.scale <= 0:
            raise ConfigError(f"the watch time scale must be a positive number, not {self.scale}")
        if self.scale < 1 and not self.compressed:
            raise ConfigError("a time scale below 1 is only for the lab's own hosts")
        for name, value in self.overrides.items():
            floor = FLOORS_S.get(name)
            if floor is None:
                raise ConfigError(f"no sampler is called {name!r}")
            if not math.isfinite(value) or value < floor:
                raise ConfigError(f"the {name} sampler runs at most every {floor} s, not {value}")

    def interval(self, name: str) -> float:
        """Seconds between two rounds of ``name``, scaled."""
        return self.overrides.get(name, DEFAULT_INTERVALS_S[name]) * self.scale

    def floor(self, name: str) -> float:
        """The shortest interval ``name`` may run at, scaled."""
        return FLOORS_S[name] * self.scale

    def timeout(self, name: str) -> float:
        """One exchange's deadline: 80 % of the interval, at most 5 s (0.5 s for a ping), scaled."""
        if name == "gateway":
            return min(0.5 * self.scale, 0.8 * self.interval(name))
        return min(0.8 * self.interval(name), 5.0 * self.scale)
