"""Regenerate (or add) an Alembic revision of the server's tables from db/models.py.

    .venv/bin/python scripts/server-revision.py "what changed" 0002

Until the first release, 0001_initial.py may be regenerated instead: delete it
and run this with 0001.
"""

import asyncio
import sys
import tempfile

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from homediag.server.db.engine import MIGRATIONS


async def main():
    eng = create_async_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/autogen.db")

    def run(conn):
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=sys.argv[1], autogenerate=True, rev_id=sys.argv[2])

    async with eng.begin() as c:
        await c.run_sync(run)


asyncio.run(main())
# Revisions use SQLAlchemy's own types: a revision must not depend on the models' module.
for path in MIGRATIONS.glob(f"versions/{sys.argv[2]}_*.py"):
    text = path.read_text().replace(
        "homediag.server.db.models.UtcDateTime(timezone=True)", "sa.DateTime(timezone=True)"
    )
    path.write_text(text.replace("import homediag.server.db.models\n", ""))
