"""The lab's one error: the virtual home cannot be built or driven.

It lives with the lab, not in :mod:`homediag.errors`: nothing in homediag
itself raises it. It derives from :class:`homediag.errors.HomediagError`, so
``homediag lab …`` prints it as one line and exits with its code.
"""

from __future__ import annotations

from homediag.errors import HomediagError

__all__ = ["LabError"]


class LabError(HomediagError):
    """The virtual home cannot be built or driven (not Linux, not root, missing tools)."""

    exit_code = 2
