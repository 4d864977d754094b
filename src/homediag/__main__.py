"""``python -m homediag``: the same as the ``homediag`` command."""

from homediag.cli import main

raise SystemExit(main())
