"""``python -m homediag``: the same as the ``homediag`` command."""

from homediag.cli import console_main

raise SystemExit(console_main())
