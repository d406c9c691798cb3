"""Runs INSIDE the target interpreter (the one Prefect runs under) and prints one JSON object.

It must stand alone: the target may not have prefectwin installed, and it may be a different
Python version, so only the standard library and prefect itself are imported. Prefect's own
settings model and its `prefect config view` logic are the only source of setting values and
sources; nothing here re-derives them.
"""
import io
import json
import locale
import sys
import sysconfig


def _python():
    return {
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "prefix": sys.prefix,
        "basePrefix": getattr(sys, "base_prefix", sys.prefix),
        "scriptsDir": sysconfig.get_path("scripts"),
        "platform": sys.platform,
        "utf8Mode": bool(sys.flags.utf8_mode),
        "preferredEncoding": locale.getpreferredencoding(False),
    }


def _prefect_distribution():
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python < 3.8 cannot run Prefect 3 anyway
        return {"installed": False, "version": None, "requiresPython": None}
    try:
        dist = metadata.distribution("prefect")
    except metadata.PackageNotFoundError:
        return {"installed": False, "version": None, "requiresPython": None}
    return {
        "installed": True,
        "version": dist.version,
        "requiresPython": dist.metadata.get("Requires-Python"),
    }


def _config_view():
    """Prefect's own `config view --show-sources --show-defaults -o json`, captured."""
    import prefect.cli._app as cli_app
    from prefect.cli.config import view
    from rich.console import Console

    buffer = io.StringIO()
    cli_app.console = Console(file=buffer, width=100000, soft_wrap=True, color_system=None)
    try:
        view(show_defaults=True, show_sources=True, show_secrets=False, output="json")
    except SystemExit:
        pass
    return json.loads(buffer.getvalue())


def _summary(settings, context):
    """Where Prefect stands in this interpreter; the settings probe reports the same keys."""
    return {
        "profile": context.profile.name,
        "profilesPath": str(settings.profiles_path),
        "home": str(settings.home),
        "apiUrl": settings.api.url,
        "serverHost": settings.server.api.host,
        "serverPort": settings.server.api.port,
    }


def _settings():
    import prefect.context
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    context = prefect.context.get_settings_context()
    url = settings.server.database.connection_url
    database_url = url.get_secret_value() if url is not None else None
    if database_url is None:
        database_url = "sqlite+aiosqlite:///" + str(settings.home) + "/prefect.db"
    return dict(
        _summary(settings, context),
        ephemeralEnabled=bool(settings.server.ephemeral.enabled),
        databaseUrl=database_url,
        entries=_config_view().get("settings", []),
    )


def main():
    out = {"python": _python(), "prefect": _prefect_distribution(), "settings": None, "error": None}
    if out["prefect"]["installed"]:
        try:
            out["settings"] = _settings()
        except Exception as exc:  # reported, not raised: a broken setting is a diagnosis
            out["error"] = "%s: %s" % (type(exc).__name__, exc)
    sys.stdout.write(json.dumps(out, ensure_ascii=True, default=str))
    sys.stdout.flush()


# Guarded so the settings probe (prefectwin/settings/probe_settings.py) can load these helpers
# as a library; `python -c` runs this file as __main__, so the diagnosis is unaffected.
if __name__ == "__main__":
    main()
