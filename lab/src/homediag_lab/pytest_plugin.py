"""pytest fixtures for the lab; opt-in, from a ``conftest.py``::

    pytest_plugins = ["homediag_lab.pytest_plugin"]

There is no ``pytest11`` entry point on purpose: installing the lab must not
load a plugin (and its imports) into every pytest run on the machine.

``lab_factory(name_or_scenario)`` returns a running :class:`~homediag_lab.Lab`;
labs built by name are shared for the session, and all are torn down at its
end. Where a lab cannot be built the test is skipped, except under
``CI=true``, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from homediag_lab.lab import Lab, lab_unavailable_reason
from homediag_lab.topology import Scenario

__all__ = ["lab_factory", "require_lab"]


def require_lab() -> None:
    """Skip (or, under ``CI=true``, fail) the calling test when no lab can be built here."""
    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"lab required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_factory() -> Iterator[Callable[..., Lab]]:
    """Build labs on demand: ``lab_factory("healthy")`` (shared) or ``lab_factory(scenario, fresh=True)``."""
    shared: dict[str, Lab] = {}
    owned: list[Lab] = []

    def make(scenario: str | Scenario = "healthy", *, fresh: bool = False) -> Lab:
        require_lab()
        key = scenario if isinstance(scenario, str) else None
        if key is not None and not fresh and key in shared:
            return shared[key]
        lab = Lab(scenario).up()
        owned.append(lab)
        if key is not None and not fresh:
            shared[key] = lab
        return lab

    try:
        yield make
    finally:
        for lab in reversed(owned):
            lab.down()
