"""The server database: SQLite file health, or a real PostgreSQL connection."""
from __future__ import annotations

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts

POSTGRES_HINT = "Prefect recommends PostgreSQL for servers: set PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg://user:***@host:5432/prefect."


@check("database", "probe", "database")
def database(facts: Facts):
    db = facts.database
    if db is None:
        if facts.role == "Worker":
            return skipped("Workers do not use the server database.")
        return skipped("The database URL is not known; see prefect.installed and settings.profile.")
    if db.kind == "sqlite":
        data = dict(kind="sqlite", url=db.url_masked, path=db.path, exists=db.exists)
        if db.path_problem:
            return fail(
                f"The SQLite database URL cannot be used: {db.path_problem}.",
                "Set PREFECT_SERVER_DATABASE_CONNECTION_URL to sqlite+aiosqlite:///<path> on one line, or remove it to use PREFECT_HOME\\prefect.db.",
                **data,
            )
        if db.memory:
            return warn("The database is in memory: everything is lost when the server stops.", POSTGRES_HINT, **data)
        if db.on_network_share:
            return warn(
                f"SQLite database {db.path} is on a network share; SQLite locking over SMB causes 'database is locked' errors.",
                POSTGRES_HINT,
                **data,
            )
        if db.is_dir:
            return fail(
                f"SQLite database {db.path} is a directory, not a database file; the server cannot create its database there.",
                "Move the directory away, or point the database URL at a file.",
                **data,
            )
        if db.exists and not db.opens:
            return fail(f"SQLite database {db.path} cannot be opened: {db.open_error}.", "Check the file's permissions, or restore it from a backup.", **data)
        if db.exists and db.writable is False:
            return fail(
                f"SQLite database {db.path} opens, but this account cannot write to it{'' if db.parent_writable else ' or to its folder (where SQLite keeps its journal)'}; Prefect writes on every run.",
                "Grant the account (and the service account) Modify rights on the file and its folder, or clear its read-only attribute.",
                **data,
            )
        if not db.exists and not db.parent_writable:
            return fail(
                f"SQLite database {db.path} does not exist and its folder is not writable, so the server cannot create it.",
                "Create the folder and grant the service account Modify rights on it.",
                **data,
            )
        state = "opens" if db.exists else "will be created on first start"
        return passed(f"SQLite database {db.path} {state}.", **data)
    if db.kind == "postgresql":
        data = dict(kind="postgresql", url=db.url_masked, host=db.host, port=db.port, database=db.database, outcome=db.outcome)
        where = f"{db.host}:{db.port}"
        if db.outcome == "connected":
            return passed(f"Connected to PostgreSQL {db.server_version} at {where}.", serverVersion=db.server_version, **data)
        if db.outcome == "auth-failed":
            return fail(
                f"PostgreSQL at {where} refused the credentials: {db.error}.",
                "Check the user and password in the connection URL (and pg_hba.conf on the server).",
                **data,
            )
        if db.outcome == "no-database":
            return fail(f"PostgreSQL at {where} has no database '{db.database}'.", f"Create it: CREATE DATABASE {db.database};", **data)
        if db.outcome == "bad-url":
            return fail(
                f"The PostgreSQL URL cannot be used: {db.error}.",
                "Percent-encode special characters in the user and password: '@' as %40, ':' as %3A, '/' as %2F.",
                **data,
            )
        if db.outcome == "unreachable":
            return fail(
                f"PostgreSQL at {where} is unreachable: {db.error}.",
                "Check that PostgreSQL is running, listens on that address, and that the firewall allows the port.",
                **data,
            )
        return fail(f"PostgreSQL at {where} could not be used: {db.error}.", "See the PostgreSQL server log.", **data)
    return fail(f"Unsupported database URL {db.url_masked}.", "Prefect supports sqlite+aiosqlite and postgresql+asyncpg URLs.", url=db.url_masked)
