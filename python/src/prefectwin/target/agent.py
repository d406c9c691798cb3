"""Runs INSIDE the target interpreter (the one Prefect runs under): Prefect's own answers.

Started by prefectwin/target/channel.py as `python -c <prelude + this file>`; the prelude
defines FRAME, a marker chosen per run. The agent first writes a hello frame (the interpreter
and the installed distributions, which needs no Prefect import), then answers one JSON request
per stdin line until stdin closes. Every answer is one line `FRAME + json`: whatever else
reaches stdout (a wrapper's banner, a sitecustomize that prints, Prefect printing) is not a
frame, and the backend skips it. After the hello, fd 1 is pointed at stderr, so not even a C
extension can write between two frames.

One agent may answer many requests (a `serve` session keeps it warm), and each answer must be
what a fresh process would give. So every request carries its environment and working
directory, which replace this process's own; Prefect's settings are then read afresh: its file
caches are emptied and a new root settings context is built and entered for that request
alone (the one made when `prefect.context` was imported holds the first request's settings).
An answer says `retire` when this process no longer matches a fresh one (an import failed, so
modules may be half-loaded), and a request is refused as `stale` when the installed packages
changed since the last one: the backend then asks a new agent.

It must stand alone: the target may not have prefectwin, and may be another Python version, so
only the standard library and prefect itself are imported. It works with every Prefect release
from the lowest PrefectWin supports; where releases differ (the shape of `prefect config view`)
it asks the release what it has, never a module only one release has. Nothing here re-derives
Prefect's resolution (but for the choice of the active profile, see _root_context):
- values come from Prefect's Settings model (`Settings()` read per request, `Setting.value_from`);
- sources come from Prefect's own `prefect config view --show-sources`, run in-process and
  read back (JSON where the release offers `-o json`, else its text lines);
- names and aliases come from the model's `validation_alias` lists (`prefect.settings.legacy`);
- validation is Prefect's `Profile.validate_settings()`, the check behind `prefect config set`;
- profiles are read with `load_profiles` and changed with `update_profile`, then written as
  `save_profiles` would write them, but checked first and swapped in atomically.

Which settings are secret is this release's to say: a request that carries `secretNames`
gets, with its answer, the environment names of every SecretStr field of the settings model
(canonical names and aliases) and all the names the model has (`_secret_names`).

Secret values leave this process only over the backend's private pipe: the values of secret
settings only when a request asks for them (`showSecret`), and the database URL of `diagnose`,
which the backend's database check needs, and the client's auth string and API key, which its
one authenticated API call needs. Error texts never quote the values Prefect refused.
"""
import io
import json
import locale
import os
import re
import sys
import sysconfig

MASK = "********"
# Distributions whose versions decide whether a Prefect release works (see the pure checks).
DEPENDENCIES = ("pydantic", "pydantic-settings", "fastapi", "importlib_metadata", "typer", "rich")

_answers = sys.stdout
# Per request: the settings context built for it, and what must be undone after it.
_request = {"context": None, "exit": []}
_retire = False
_stamp = None


def _open_channel():
    """Answers go to a private copy of fd 1; fd 1 itself (and sys.stdout) now go to stderr."""
    global _answers
    sys.stdout.flush()
    try:
        private = os.dup(1)
        os.dup2(2, 1)
        _answers = io.TextIOWrapper(io.FileIO(private, "w"), encoding="ascii", newline="\n", write_through=True)
    except OSError:  # no fd 1 to copy (a GUI launcher): frames on sys.stdout still work
        _answers = sys.stdout
    sys.stdout = sys.stderr


def _send(message):
    _answers.write(FRAME + json.dumps(message, ensure_ascii=True, default=str) + "\n")  # noqa: F821 - FRAME comes from the prelude
    _answers.flush()


def _validation_text(error):
    """A pydantic ValidationError without the values it refused: they may be secrets."""
    return "; ".join(
        "%s: %s" % (".".join(str(part) for part in item.get("loc", ())) or "value", item.get("msg"))
        for item in error.errors(include_input=False)
    )


def _error_text(exc):
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic's ValidationError quotes each refused input in its str()
        try:
            return _validation_text(exc)
        except TypeError:  # a pydantic too old for include_input
            return "invalid settings"
    if isinstance(errors, list) and errors and all(isinstance(e, tuple) and len(e) == 2 for e in errors):
        # Prefect's ProfileSettingsValidationError: (setting, ValidationError) pairs.
        return "; ".join("%s: %s" % (getattr(setting, "name", setting), _validation_text(error)) for setting, error in errors)
    return str(exc)


def _error(exc):
    """An exception as the backend reports it: its text, and what kind of problem it is."""
    from_settings = type(exc).__name__ in ("ValidationError", "ProfileSettingsValidationError", "SettingsError")
    if from_settings:
        kind = "settings"
    elif isinstance(exc, ImportError) and getattr(exc, "name", None):
        kind = "missing-module"
    elif isinstance(exc, OSError) and getattr(exc, "filename", None):
        kind = "filesystem"  # a file or folder Prefect reads or writes (a profiles path under a file), not the install
    else:
        kind = "broken"
    return {
        "error": "%s: %s" % (type(exc).__name__, _error_text(exc)),
        "errorKind": kind,
        "missingModule": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
        "path": str(exc.filename) if kind == "filesystem" else None,
    }


# -- facts that need no Prefect import ----------------------------------------------------------
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


def _version_of(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _prefect_distribution():
    from importlib import metadata

    try:
        dist = metadata.distribution("prefect")
    except metadata.PackageNotFoundError:
        return {"installed": False, "version": None, "requiresPython": None, "dependencies": {}}
    return {
        "installed": True,
        "version": dist.version,
        "requiresPython": dist.metadata.get("Requires-Python"),
        "dependencies": {name: _version_of(name) for name in DEPENDENCIES},
    }


# -- Prefect ------------------------------------------------------------------------------------
def _cli_error():
    """What `prefect` (the console script every service runs) dies of at import, or None.

    The entry point is read from the distribution's metadata and loaded as the launcher would."""
    global _retire
    from importlib import metadata

    try:
        entry = next(e for e in metadata.distribution("prefect").entry_points if e.group == "console_scripts" and e.name == "prefect")
    except StopIteration:
        return {"error": "the prefect distribution declares no 'prefect' console script", "errorKind": "broken", "missingModule": None}
    try:
        entry.load()
    except BaseException as exc:  # noqa: BLE001 - whatever kills the CLI is the diagnosis
        if isinstance(exc, KeyboardInterrupt):
            raise
        _retire = True
        return _error(exc)
    return None


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TEXT_ENTRY = re.compile(r"^(PREFECT_[A-Z0-9_]+)='(.*)' \(from ([^()]+)\)\s*$", re.S)


def _config_view():
    """Prefect's own `config view --show-sources`, captured: [{name, value, source}] of every
    setting that is not at its default. (With --show-defaults the view reads Settings() once
    more, for values the request already has: a setting it does not list is a default.)"""
    import contextlib
    import inspect

    from prefect.cli.config import view

    kwargs = {"show_defaults": False, "show_sources": True, "show_secrets": False}
    # `-o json` exists from some 3.x on; before it, the view prints NAME='value' (from source).
    as_json = "output" in inspect.signature(view).parameters
    if as_json:
        kwargs["output"] = "json"
    buffer = io.StringIO()
    # Every release prints through a rich Console made without a file, which writes to
    # whatever sys.stdout is at the time.
    with contextlib.redirect_stdout(buffer):
        try:
            view(**kwargs)
        except SystemExit:
            pass
    text = _ANSI.sub("", buffer.getvalue())
    if as_json:
        return json.loads(text[text.index("{"):])["settings"]
    entries = []
    for line in text.splitlines():
        if re.match(r"PREFECT_[A-Z0-9_]+='", line) or not entries:
            entries.append(line)
        else:  # a value with a newline in it
            entries[-1] += "\n" + line
    parsed = (_TEXT_ENTRY.match(entry) for entry in entries)
    return [{"name": m.group(1), "value": m.group(2), "source": m.group(3)} for m in parsed if m]


def _summary(settings, context):
    return {
        "profile": context.profile.name,
        "profilesPath": str(settings.profiles_path),
        "home": str(settings.home),
        "apiUrl": settings.api.url,
        "serverHost": settings.server.api.host,
        "serverPort": settings.server.api.port,
    }


def _missing_homes():
    """The folders Prefect's import may take for PREFECT_HOME (the variable, else its default)
    that do not exist yet; none once Prefect is imported. A home named only in .env or
    prefect.toml is not among them."""
    if "prefect.context" in sys.modules:
        return set()
    named = [os.environ.get("PREFECT_HOME"), os.path.join("~", ".prefect")]
    found = (os.path.abspath(os.path.expanduser(path)) for path in named if path)
    return {path for path in found if not os.path.lexists(path)}


def _remove_made_home(missing):
    """Every 3.x release makes a missing PREFECT_HOME when prefect.context is first imported,
    whichever op imports it (the CLI's entry point, a settings read). This process only reads,
    and a diagnosis or a -WhatIf plan must not change the machine: the folder that import made
    is removed again, while it is still empty (a profile written into it keeps it)."""
    context = sys.modules.get("prefect.context")
    if not missing or context is None:
        return
    try:
        home = os.path.abspath(os.path.expanduser(str(context.get_settings_context().settings.home)))
        if home in missing:
            os.rmdir(home)
    except Exception:  # noqa: BLE001 - a folder left behind is no reason to fail the answer
        pass


def _import_prefect():
    global _retire
    try:
        import prefect.context
        import prefect.settings
    except BaseException:
        _retire = True  # a failed import leaves half-loaded modules a fresh process would not have
        raise
    return prefect


def _forget_cached_files():
    """Empty the caches Prefect keeps of the files it read (3.6 on keep the toml files for a
    minute, keyed by their mtime, which a quick rewrite may not change). Found by their type,
    not their name, so a release that adds or renames one is covered too."""
    try:
        from cachetools import Cache
    except ImportError:
        return
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "prefect.settings" or name.startswith("prefect.settings.")):
            for value in list(vars(module).values()):
                if isinstance(value, Cache):
                    value.clear()


def _root_context(prefect, settings):
    """The root settings context of a process started now, from settings read now.

    Prefect makes it with root_settings_context(), which reads Settings() a second time (about
    half of a request's cost) and finds profiles.toml through the settings of the context it is
    called in. So its profile choice, the same in every supported release, is applied here to
    the settings already read: PREFECT_PROFILE, else the file's `active`; a name the file does
    not have is the ephemeral profile. Unlike Prefect's, it makes no PREFECT_HOME (see
    _remove_made_home)."""
    bootstrap = prefect.context.SettingsContext(profile=prefect.settings.Profile(name="prefectwin", settings={}), settings=settings)
    with bootstrap:
        profiles = prefect.settings.load_profiles()
    name = os.environ["PREFECT_PROFILE"] if "PREFECT_PROFILE" in os.environ else profiles.active_name
    if name not in profiles.names:
        name = "ephemeral"
    return prefect.context.SettingsContext(profile=profiles[name], settings=settings)


def _current():
    """This request's settings and settings context, read now (once per request)."""
    if _request["context"] is None:
        prefect = _import_prefect()
        _forget_cached_files()
        context = _root_context(prefect, prefect.settings.Settings())
        context.__enter__()
        _request["exit"].append(lambda: context.__exit__(None, None, None))
        _request["context"] = context
    context = _request["context"]
    return context.settings, context


def diagnose(request):
    """Everything the diagnosis asks, in one answer; problems are facts here, not failures."""
    out = {"settings": None, "cli": _cli_error()}
    try:
        settings, context = _current()
        url = settings.server.database.connection_url
        database_url = url.get_secret_value() if url is not None else None
        if database_url is None:
            database_url = "sqlite+aiosqlite:///" + str(settings.home) + "/prefect.db"
        known = _fields()
        out["settings"] = dict(
            _summary(settings, context),
            # PREFECT_* variables of this environment that this release has no setting for:
            # it ignores them, so a service spec that sets one would not do what it says.
            unknownEnv=sorted(n for n in os.environ if n.upper().startswith("PREFECT_") and n.upper() not in known),
            ephemeralEnabled=bool(settings.server.ephemeral.enabled),
            databaseUrl=database_url,
            entries=_entries(settings),
            **_client_credentials(settings),
        )
    except Exception as exc:  # reported, not raised: a broken setting or install is a diagnosis
        out.update(_error(exc))
    return out


def _client_credentials(settings):
    """What this release's client authenticates with, for the diagnosis's one authenticated
    call: PREFECT_API_AUTH_STRING (3.1 on), PREFECT_API_KEY, and Cloud's API URL."""
    api = settings.api
    secrets = {"apiAuthString": getattr(api, "auth_string", None), "apiKey": getattr(api, "key", None)}
    out = {name: (value.get_secret_value() if hasattr(value, "get_secret_value") else value) for name, value in secrets.items()}
    cloud = getattr(settings, "cloud", None)
    out["cloudApiUrl"] = str(cloud.api_url) if cloud is not None and getattr(cloud, "api_url", None) else None
    return out


def _entries(settings):
    """Every setting with its source: Prefect's view for those it lists, default for the rest
    (the view would list those last, with the value the settings have, masked if secret)."""
    entries = _config_view()
    listed = {e["name"] for e in entries}
    for setting in _canonical_settings():
        if setting.name not in listed:
            value = MASK if setting.is_secret else str(setting.value_from(settings))
            entries.append({"name": setting.name, "value": value, "source": "defaults"})
    return entries


def _fields():
    from prefect.settings import Settings
    from prefect.settings.legacy import _get_settings_fields

    return _get_settings_fields(Settings)


def _canonical_settings():
    """Each setting once, canonical name first, in name order."""
    seen = {}
    for setting in _fields().values():
        seen.setdefault(setting.name, setting)
    return [seen[name] for name in sorted(seen)]


def _env_names(setting):
    """The environment names Prefect's model accepts for a setting, in the model's own order
    (the order pydantic-settings tries them, so the first one set is the one that counts)."""
    from prefect.settings import Settings
    from pydantic import AliasChoices

    model, accessor = Settings, setting.accessor.split(".")
    for part in accessor[:-1]:
        model = model.model_fields[part].annotation
    field = model.model_fields[accessor[-1]]
    names = []
    if isinstance(field.validation_alias, AliasChoices):
        names = [c.upper() for c in field.validation_alias.choices if isinstance(c, str)]
    if setting.name not in names:
        names.insert(0, setting.name)
    return names


def _is_secret_type(annotation):
    """Whether a field's type is (or wraps: Optional, Union, a list of) pydantic's SecretStr."""
    from typing import get_args

    from pydantic import SecretStr

    seen = [annotation]
    while seen:
        kind = seen.pop()
        if kind is SecretStr or (isinstance(kind, type) and issubclass(kind, SecretStr)):
            return True
        seen.extend(get_args(kind))
    return False


def _secret_names():
    """Which settings this release's model holds as SecretStr, by every environment name it
    accepts for them, and every name it has at all: the backend masks by these (a name the
    release does not define is the backend's to judge). Walks the model's own fields, so a
    secret that a release adds or renames is covered without a list here."""
    from prefect.settings import Settings

    secret, names = set(), set()
    for setting in _canonical_settings():
        env_names = _env_names(setting)
        names.update(env_names)
        model, accessor = Settings, setting.accessor.split(".")
        for part in accessor[:-1]:
            model = model.model_fields[part].annotation
        if setting.is_secret or _is_secret_type(model.model_fields[accessor[-1]].annotation):
            secret.update(env_names)
    return {"secret": sorted(secret), "names": sorted(names)}


def _jsonable(value):
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def describe(request):
    from prefect.settings import load_profiles

    show_secret = bool(request.get("showSecret"))
    settings, context = _current()
    sources = {e["name"]: e["source"] for e in _config_view()}
    entries = []
    for setting in _canonical_settings():
        names = _env_names(setting)
        value = setting.value_from(settings)
        if setting.is_secret and value is not None and not show_secret:
            value = MASK
        source = sources.get(setting.name, "defaults")
        entries.append(
            {
                "name": setting.name,
                "aliases": [n for n in names if n != setting.name],
                "secret": setting.is_secret,
                "value": _jsonable(value),
                "source": source,
                "envName": next((n for n in names if os.environ.get(n) is not None), None) if source == "env" else None,
            }
        )
    return dict(_summary(settings, context), profiles=sorted(load_profiles().names), entries=entries)


def validate(request):
    """Prefect's own verdict on NAME=VALUE, as `prefect config set` would give it."""
    from prefect.exceptions import ProfileSettingsValidationError
    from prefect.settings import Profile

    _current()  # this request's settings context: a warm agent's first one is long gone
    setting = _fields().get(request["name"])
    if setting is None:
        return {"canonical": None, "errors": []}
    errors = []
    try:
        Profile(name="prefectwin-validation", settings={setting.name: request["value"]}).validate_settings()
    except ProfileSettingsValidationError as exc:
        for _, problem in exc.errors:
            errors.extend(e["msg"] for e in problem.errors(include_input=False, include_url=False))
    return {"canonical": setting.name, "errors": errors}


def profile_get(request):
    from prefect.settings import load_profiles

    _current()  # profiles.toml is found through the settings context: this request's, not the first's
    profiles = load_profiles()
    name = request["profile"]
    if name not in profiles.names:
        return {"exists": False, "settings": {}}
    stored = profiles[name].settings
    return {"exists": True, "settings": {s.name: None if v is None else str(v) for s, v in stored.items()}}


def _save_profiles(profiles):
    """What Prefect's save_profiles writes (the non-default profiles, as toml.dumps renders
    them), but checked before the file is touched and then swapped in whole: the text must
    encode as UTF-8 and read back as exactly what was meant, and it goes to a temp file in the
    same folder that replaces the old one. A refused or interrupted write leaves the old file."""
    import stat
    import tempfile

    import toml
    from prefect.settings import get_current_settings
    from prefect.settings.constants import DEFAULT_PROFILES_PATH

    path = get_current_settings().profiles_path
    document = profiles.without_profile_source(DEFAULT_PROFILES_PATH).to_dict()
    text = toml.dumps(document)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a value is not Unicode text (an unpaired surrogate); nothing was written") from None
    try:
        import tomllib

        read_back = tomllib.loads(text)
    except ImportError:  # Python < 3.11: Prefect reads profiles with toml there
        read_back = toml.loads(text)
    except ValueError:
        read_back = None
    if read_back != {k: v for k, v in document.items() if v is not None}:
        raise ValueError("the profiles file would not read back as written; nothing was written")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".profiles-", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, stat.S_IMODE(os.stat(str(path)).st_mode))
        os.replace(temp, str(path))
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def profile_update(request):
    """Set and unset settings of one profile through Prefect's profile API, validated first."""
    import prefect.context
    from prefect.settings import get_current_settings, load_profiles

    _current()  # profiles.toml is found through the settings context: this request's, not the first's
    profiles = load_profiles()
    name = request.get("profile") or prefect.context.get_settings_context().profile.name
    if name not in profiles.names:
        raise ValueError("Profile %r does not exist." % name)
    changes = dict(request.get("set") or {})
    changes.update({n: None for n in request.get("unset") or []})
    profiles.update_profile(name, changes)
    profiles[name].validate_settings()
    _save_profiles(profiles)
    return {"profile": name, "path": str(get_current_settings().profiles_path)}


OPS = {"diagnose": diagnose, "describe": describe, "validate": validate, "profile-get": profile_get, "profile-update": profile_update}


def _install_stamp():
    """When the folders imports come from last changed: pip adds or removes an entry in
    site-packages for every install, upgrade and removal."""
    stamp = []
    for entry in sys.path:
        try:
            stamp.append(os.stat(entry or ".").st_mtime_ns)
        except OSError:
            stamp.append(None)
    return stamp


def _enter(request):
    """Take on the request's environment (in place: modules keep references to os.environ)
    and working directory."""
    env = request.get("env")
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    if request.get("cwd"):
        os.chdir(request["cwd"])


def _answer(request):
    global _retire
    missing = set()
    try:
        _enter(request)
        missing = _missing_homes()
        answer = {"ok": True, "result": OPS[request["op"]](request)}
        if request.get("secretNames"):
            # Asked once per interpreter in a session, on whichever request comes first.
            try:
                answer["secretNames"] = _secret_names()
            except Exception:  # noqa: BLE001 - no list: the backend falls back to its own rule
                answer["secretNames"] = None
        return answer
    except Exception as exc:  # reported to the backend, which turns it into a protocol error
        answer = dict(_error(exc), ok=False)
        if answer["errorKind"] != "settings":
            _retire = True
        return answer
    finally:
        while _request["exit"]:
            _request["exit"].pop()()
        _request["context"] = None
        _remove_made_home(missing)


def main():
    global _stamp
    _open_channel()
    _send({"python": _python(), "prefect": _prefect_distribution()})
    for line in sys.stdin:
        if not line.strip():
            continue
        if _stamp is not None and _install_stamp() != _stamp:
            # The hello's versions, and the modules already imported, may no longer be true.
            _send({"ok": False, "stale": True, "error": "the installed packages changed", "errorKind": "broken", "retire": True})
            continue
        answer = _answer(json.loads(line))
        # Taken after the request, so what its own imports wrote (__pycache__) is not a change.
        _stamp = _install_stamp()
        answer["retire"] = _retire
        _send(answer)


main()
