"""What the command line exits with when an error ends a command.

Exit codes are the command line's business: the library's exceptions carry
a message and a class, and this table turns the class into the number a
script or CI job tests. The most specific class listed wins.
"""

from __future__ import annotations

from homediag.errors import (
    BundleError,
    BundleFormatError,
    BundleIntegrityError,
    BundleSchemaError,
    ConfigError,
    HomediagError,
    LabError,
    ProbeDependencyError,
    RedactionError,
)

__all__ = ["exit_code_for", "validate_exit_code"]

#: Exit code by error class, for every command.
_EXIT_CODES: dict[type[HomediagError], int] = {
    HomediagError: 1,
    ConfigError: 2,
    ProbeDependencyError: 2,
    BundleError: 2,
    LabError: 2,
    RedactionError: 6,
}

#: ``homediag validate`` tells the kinds of bad bundle apart.
_VALIDATE_CODES: dict[type[HomediagError], int] = {
    BundleError: 2,
    BundleFormatError: 3,
    BundleIntegrityError: 4,
    BundleSchemaError: 5,
}


def _most_specific(exc: BaseException, table: dict[type[HomediagError], int], default: int) -> int:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default


def exit_code_for(exc: HomediagError) -> int:
    """The exit code of a command that ``exc`` ended (1 for an error not listed)."""
    return _most_specific(exc, _EXIT_CODES, 1)


def validate_exit_code(exc: BundleError) -> int:
    """``homediag validate``'s code for a bundle it refused: 3 format, 4 integrity, 5 schema."""
    return _most_specific(exc, _VALIDATE_CODES, 2)
