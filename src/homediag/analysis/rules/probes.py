"""Rules about the run itself: probes that timed out or failed."""

from __future__ import annotations

from collections.abc import Iterator

from homediag.analysis.catalog import spec
from homediag.model.bundle import Bundle
from homediag.model.finding import Finding

PROBE_TIMEOUT = spec(
    "homediag.probe_timeout",
    severity="warning",
    probe="homediag",
    evidence=("probe", "duration_s"),
    title="A check did not finish in time",
    meaning="""A probe was stopped by its timeout or the run's deadline. Its facts are missing
    or partial: something it talks to answered slowly or not at all (a blackholed port, a
    hanging service), or this computer was too busy to finish it in time.""",
    remediation="""Look at what that probe talks to (its summary names it). Re-run with a longer
    deadline (`homediag run --timeout 60`) if the network is just slow.""",
)
PROBE_ERROR = spec(
    "homediag.probe_error",
    severity="warning",
    probe="homediag",
    evidence=("probe", "error_type"),
    title="A check failed",
    meaning="""A probe raised an error instead of returning facts. The other probes ran; this one's
    facts are missing.""",
    remediation="""Read the error message in the probe's record. If it names a permission or a
    missing tool, fix that and re-run; otherwise report it with the bundle.""",
)


def analyze(bundle: Bundle) -> Iterator[Finding]:
    """One finding per probe that timed out or failed."""
    for name, record in bundle.probes.items():
        message = record.error.message if record.error else ""
        if record.status == "timeout":
            yield PROBE_TIMEOUT.make(
                f"The {name} probe did not finish: {message or 'timed out'}.",
                {"probe": name, "duration_s": record.duration_s},
                title=f"The {name} check did not finish in time",
            )
        elif record.status == "error":
            kind = record.error.type if record.error else "error"
            yield PROBE_ERROR.make(
                f"The {name} probe failed with {kind}: {message}",
                {"probe": name, "error_type": kind},
                title=f"The {name} check failed",
            )
