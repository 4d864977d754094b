"""The built-in lab scenarios: a healthy home, and homes with one thing broken.

The scenarios are defined by family: :mod:`~homediag_lab.scenarios.home` (the
healthy home they all derive from), :mod:`~homediag_lab.scenarios.router`,
:mod:`~homediag_lab.scenarios.mdns`, :mod:`~homediag_lab.scenarios.mqtt`,
:mod:`~homediag_lab.scenarios.endpoints`, and
:mod:`~homediag_lab.scenarios.stress` (benchmarks and resilience tests, not
listed in :data:`SCENARIOS`).
"""

from __future__ import annotations

from collections.abc import Callable

from homediag.errors import LabError
from homediag_lab.scenarios.endpoints import ENDPOINT_SCENARIOS
from homediag_lab.scenarios.home import healthy
from homediag_lab.scenarios.mdns import MDNS_SCENARIOS
from homediag_lab.scenarios.mqtt import MQTT_SCENARIOS
from homediag_lab.scenarios.router import ROUTER_SCENARIOS
from homediag_lab.scenarios.stress import (
    faulty_home_scenario,
    hostile_endpoints_scenario,
    mdns_flood_scenario,
    mdns_malformed_scenario,
    scale_scenario,
)
from homediag_lab.topology import Scenario

__all__ = [
    "SCENARIOS",
    "faulty_home_scenario",
    "get_scenario",
    "hostile_endpoints_scenario",
    "mdns_flood_scenario",
    "mdns_malformed_scenario",
    "scale_scenario",
    "scenario_names",
]

#: Every scenario by name, in the order ``homediag lab scenarios`` and the gallery list them.
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "healthy": healthy,
    **ROUTER_SCENARIOS,
    **MDNS_SCENARIOS,
    **MQTT_SCENARIOS,
    **ENDPOINT_SCENARIOS,
}


def scenario_names() -> list[str]:
    """Names of the built-in scenarios."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The built-in scenario ``name``; :class:`LabError` listing the names if unknown."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise LabError(f"unknown scenario {name!r}; choose from: {', '.join(SCENARIOS)}") from None
