"""Backing up and restoring the SQLite database of a Prefect server."""
