"""Errors raised by homediag.

Everything homediag raises on purpose derives from one root, so an
integrator can catch ``HomediagError`` and nothing else::

    HomediagError
    ├── ConfigError                the configuration file, flags or environment are wrong
    │   ├── UnknownProbeError      a probe name that no registered probe carries
    │   └── PackError              an integration pack file is invalid
    ├── ProbeDependencyError       probes that wait for each other in a circle
    ├── ProbeError                 a probe met an expected failure (recorded, never a traceback)
    │   └── IcmpNotPermittedError  this process may not send ICMP echo requests
    ├── BundleError                a bundle cannot be read or trusted
    │   ├── BundleFormatError      not a zip, unsafe or oversized members, invalid JSON
    │   ├── BundleIntegrityError   manifest missing, a hash or size does not match
    │   └── BundleSchemaError      the content does not follow a schema this version reads
    ├── RedactionError             a secret survived redaction: the bundle is not written
    ├── WatchStoreError            a watch store cannot be opened, resumed or written
    ├── UploadError                a bundle could not be uploaded to a homediag server
    ├── ServerError                homediag serve cannot start (database, data directory, settings)
    └── LabError                   the virtual home cannot be built or driven

Every message is one line meant for a person. What the command line exits
with for each class is the command line's business (``homediag.cli.exits``).

Errors from sockets and libraries never cross the probe boundary: the runner
records them on the probe (``status = error`` with the exception type and a
message) and the other probes carry on.
"""

from __future__ import annotations


class HomediagError(Exception):
    """Root of every error homediag raises on purpose; the message is one line for a person."""


class ConfigError(HomediagError):
    """The configuration (TOML file, command-line flags, environment) is invalid."""


class PackError(ConfigError):
    """An integration pack (a TOML file of checks) is invalid."""


class UnknownProbeError(ConfigError):
    """A probe was asked for by a name that no registered probe carries."""


class ProbeDependencyError(HomediagError):
    """Probes declare ``Requirements(after=...)`` on each other in a circle, so none can start."""


class ProbeError(HomediagError):
    """An expected failure inside a probe, with a message written for the installer.

    Probes raise it (or let socket errors through); the runner records it as
    ``status = error`` and never lets it escape.
    """


class IcmpNotPermittedError(ProbeError):
    """This process may open neither a datagram nor a raw ICMP socket."""


class BundleError(HomediagError):
    """A bundle cannot be read or cannot be trusted; the subclasses say why."""


class BundleFormatError(BundleError):
    """Not a homediag bundle: not a zip, unsafe or oversized members, invalid JSON."""


class BundleIntegrityError(BundleError):
    """The manifest is missing, or a file does not match its recorded hash or size."""


class BundleSchemaError(BundleError):
    """The bundle does not follow a schema this version of homediag can read."""


class RedactionError(HomediagError):
    """A known secret was still present after redaction; nothing was written."""


class WatchStoreError(HomediagError):
    """A watch store cannot be created, resumed or written (wrong format, another recorder)."""


class UploadError(HomediagError):
    """A bundle could not be uploaded: the server refused it or could not be reached.

    ``status`` is the HTTP status the server answered with (None when it was
    never reached); ``retryable`` says whether trying again later may help.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ServerError(HomediagError):
    """``homediag serve`` cannot start or go on: database, data directory or settings."""


class LabError(HomediagError):
    """The virtual home cannot be built or driven (not Linux, not root, missing tools)."""
