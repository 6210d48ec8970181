"""The application database: tables, engine, migrations and repositories."""
