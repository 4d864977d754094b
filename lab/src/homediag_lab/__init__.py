"""The virtual smart home: network namespaces, real services, injected faults.

Used by the tests, by ``homediag demo``, and by integrators who test their own
probes::

    from homediag_lab import Lab

    with Lab("healthy") as lab:
        result = lab.run_homediag(["run", "-c", str(lab.config_path), "--json"])

Needs Linux, root and iproute2 (``scripts/test`` installs the rest). The lab is
an extra of homediag (``pip install 'homediag[lab]'``), a distribution of its
own so that an installer's ``pip install homediag`` carries none of it. Its
pytest fixtures are opt-in: ``pytest_plugins = ["homediag_lab.pytest_plugin"]``.
"""

from __future__ import annotations

from homediag.errors import LabError
from homediag_lab.lab import Lab, down_all, lab_unavailable_reason, list_labs
from homediag_lab.scenarios import get_scenario, scenario_names
from homediag_lab.topology import Block, Host, Impairment, Scenario

__all__ = [
    "Block",
    "Host",
    "Impairment",
    "Lab",
    "LabError",
    "Scenario",
    "down_all",
    "get_scenario",
    "lab_unavailable_reason",
    "list_labs",
    "scenario_names",
]
