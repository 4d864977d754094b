"""Errors raised by homediag.

Everything homediag raises on purpose derives from one root, so an
integrator can catch ``HomediagError`` and nothing else::

    HomediagError
    ├── ConfigError            the configuration file, flags or environment are wrong
    ├── UnknownProbeError      a probe name that no registered probe carries
    ├── ProbeError             a probe met an expected failure (recorded, never a traceback)
    ├── BundleError            a bundle cannot be read or trusted
    │   ├── BundleFormatError      not a zip, unsafe or oversized members, invalid JSON
    │   ├── BundleIntegrityError   manifest missing, a hash or size does not match
    │   └── BundleSchemaError      the content does not follow a schema this version reads
    ├── RedactionError         a secret survived redaction: the bundle is not written
    └── LabError               the virtual home cannot be built or driven

Errors from sockets and libraries never cross the probe boundary: the runner
records them on the probe (``status = error`` with the exception type and a
message) and the other probes carry on.
"""

from __future__ import annotations


class HomediagError(Exception):
    """Root of every error homediag raises on purpose.

    ``exit_code`` is what the command line exits with when this error ends a
    command; the message is always a single line meant for a person.
    """

    exit_code: int = 1


class ConfigError(HomediagError):
    """The configuration (TOML file, command-line flags, environment) is invalid."""

    exit_code = 2


class UnknownProbeError(ConfigError):
    """A probe was asked for by a name that no registered probe carries."""


class ProbeError(HomediagError):
    """An expected failure inside a probe, with a message written for the installer.

    Probes raise it (or let socket errors through); the runner records it as
    ``status = error`` and never lets it escape.
    """


class BundleError(HomediagError):
    """A bundle cannot be read or cannot be trusted.

    Every command that reads a bundle exits 2 on it; ``homediag validate``
    tells the kinds apart with ``validate_exit_code``.
    """

    exit_code = 2
    validate_exit_code = 2


class BundleFormatError(BundleError):
    """Not a homediag bundle: not a zip, unsafe or oversized members, invalid JSON."""

    validate_exit_code = 3


class BundleIntegrityError(BundleError):
    """The manifest is missing, or a file does not match its recorded hash or size."""

    validate_exit_code = 4


class BundleSchemaError(BundleError):
    """The bundle does not follow a schema this version of homediag can read."""

    validate_exit_code = 5


class RedactionError(HomediagError):
    """A known secret was still present after redaction; nothing was written."""

    exit_code = 6


class LabError(HomediagError):
    """The virtual home cannot be built or driven (not Linux, not root, missing tools)."""

    exit_code = 2
