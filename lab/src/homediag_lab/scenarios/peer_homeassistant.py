"""The healthy home with a real Home Assistant core in place of the lab's fake one.

Not in :data:`~homediag_lab.scenarios.SCENARIOS` (the gallery's list): the
peer tests (``tests/lab/test_peer_homeassistant.py``) build these with
``Lab(scenario)``. The ``homeassistant`` host keeps its address, MAC and
name; what answers on 8123, and what announces ``_home-assistant._tcp`` over
mDNS, is Home Assistant itself (its ``zeroconf`` integration), not the lab.
"""

from __future__ import annotations

from dataclasses import replace

from homediag_lab.peers.homeassistant import PERSONALITY, VERSION
from homediag_lab.scenarios.home import healthy
from homediag_lab.topology import Listener, Scenario

__all__ = [
    "peer_homeassistant",
    "peer_homeassistant_recovery",
    "peer_homeassistant_safe_mode",
]


def _with_real_home_assistant(base: Scenario, *options: tuple[str, object]) -> Scenario:
    listener = Listener(8123, PERSONALITY, options=(("location_name", "Home"), *options))
    # No lab mDNS service for this host: Home Assistant announces itself.
    return replace(base, hosts=base.with_host("homeassistant", listeners=(listener,), services=()))


def peer_homeassistant() -> Scenario:
    """The healthy home, its Home Assistant a real one with a token made by its login flow."""
    return replace(
        _with_real_home_assistant(healthy()),
        name="peer-homeassistant",
        description=(
            f"The healthy home with a real Home Assistant core {VERSION} on 192.168.77.40:8123, "
            "onboarded through its own login flow; homediag's configuration holds the "
            "long-lived access token it made."
        ),
    )


def peer_homeassistant_recovery() -> Scenario:
    """A real Home Assistant whose configuration.yaml does not parse: it runs in recovery mode."""
    return replace(
        _with_real_home_assistant(healthy(), ("configuration", "broken-yaml")),
        name="peer-homeassistant-recovery",
        description=(
            f"A real Home Assistant core {VERSION} whose configuration.yaml has a YAML error: "
            "it starts in recovery mode, with none of the configured integrations."
        ),
        expect=("home_assistant.recovery_mode",),
    )


def peer_homeassistant_safe_mode() -> Scenario:
    """A real Home Assistant restarted in safe mode: it runs, without custom integrations."""
    return replace(
        _with_real_home_assistant(healthy(), ("safe_mode", True)),
        name="peer-homeassistant-safe-mode",
        description=(
            f"A real Home Assistant core {VERSION} restarted in safe mode (Settings → System → "
            "Restart → Safe mode): its configuration loads, custom integrations do not."
        ),
        expect=("home_assistant.safe_mode",),
    )
