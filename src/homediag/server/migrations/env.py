"""Alembic's environment: the server runs migrations itself (``db.engine.migrate``).

The connection comes from the caller (``config.attributes["connection"]``);
offline SQL generation is not supported.
"""

from __future__ import annotations

from alembic import context

from homediag.server.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` command
    raise SystemExit("homediag's migrations run from `homediag serve`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
