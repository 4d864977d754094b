"""``homediag serve``: where bundles arrive, get checked, stored and found again.

The server is an extra (``pip install 'homediag[server]'``): FastAPI on
uvicorn, SQLAlchemy 2 with Alembic migrations on SQLite (aiosqlite, the
embedded default) or PostgreSQL (asyncpg), argon2 for passwords. It sits above
``support/``: it reads, analyses, compares and renders bundles with the
support-side code and never imports the probing stack.

Every upload is hostile until proven otherwise (``checking``): size caps
while streaming, then the same reader as ``homediag validate`` in a worker
process with memory and time limits. Accepted bundles are stored byte for byte
under their sha256 (``store``), indexed (``indexing``) and grouped by the
fingerprint of their problem. ``docs/serve-design.md`` has the whole design.

Nothing here is public API: integrators talk to the server over HTTP (its
OpenAPI schema is served at ``/api/v1/openapi.json``).
"""
