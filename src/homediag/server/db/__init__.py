"""The server's database: SQLAlchemy 2 models, the engine, Alembic migrations."""
