"""The virtual smart home: network namespaces, real services, injected faults.

Used by the tests, by ``homediag demo``, and by integrators who test their own
probes::

    from homediag.lab import Lab

    with Lab("healthy") as lab:
        result = lab.run_homediag(["run", "-c", str(lab.config_path), "--json"])

Needs Linux, root and iproute2 (``scripts/test`` installs the rest).
"""

from __future__ import annotations

from homediag.lab.lab import Lab, down_all, lab_unavailable_reason, list_labs
from homediag.lab.scenarios import get_scenario, scenario_names
from homediag.lab.topology import Block, Host, Impairment, Scenario

__all__ = [
    "Block",
    "Host",
    "Impairment",
    "Lab",
    "Scenario",
    "down_all",
    "get_scenario",
    "lab_unavailable_reason",
    "list_labs",
    "scenario_names",
]
