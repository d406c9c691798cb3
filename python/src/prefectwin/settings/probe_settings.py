"""Runs INSIDE the target interpreter: Prefect's own answers about settings, as a dialog.

Started with `python -c <diagnosis probe source as _PROBE_LIBRARY> + <this file>`. It reads one
JSON request per stdin line and writes one JSON answer per stdout line until stdin closes, so a
command that first asks and then writes pays for `import prefect` once.

Standard library and prefect only (the target may not have prefectwin). Nothing here re-derives
Prefect's resolution:
- values come from Prefect's Settings model (`get_current_settings()`, `Setting.value_from`);
- sources come from Prefect's own `prefect config view --show-sources` logic (the diagnosis
  probe's capture of it, loaded from _PROBE_LIBRARY);
- names and aliases come from the model's `validation_alias` lists (`prefect.settings.legacy`);
- validation is Prefect's `Profile.validate_settings()`, the check behind `prefect config set`;
- profiles are read and written with `load_profiles` / `ProfilesCollection.update_profile` /
  `save_profiles`.

Secret values leave this process only when the request asks for them (`showSecret`), and then
only over the backend's private pipe.
"""
import json
import os
import sys
import types

MASK = "********"

_library = types.ModuleType("prefectwin_probe")
exec(compile(_PROBE_LIBRARY, "probe_script.py", "exec"), _library.__dict__)  # noqa: F821 - prepended by the runner


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
    from pydantic import AliasChoices

    from prefect.settings.models.root import Settings

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


def _jsonable(value):
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def describe(request):
    import prefect.context
    from prefect.settings import get_current_settings, load_profiles

    show_secret = bool(request.get("showSecret"))
    settings = get_current_settings()
    context = prefect.context.get_settings_context()
    sources = {e["name"]: e["source"] for e in _library._config_view().get("settings", [])}
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
    return dict(_library._summary(settings, context), profiles=sorted(load_profiles().names), entries=entries)


def validate(request):
    """Prefect's own verdict on NAME=VALUE, as `prefect config set` would give it."""
    from prefect.exceptions import ProfileSettingsValidationError
    from prefect.settings import Profile

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
    from prefect.settings import load_profiles

    import prefect.context

    profiles = load_profiles()
    name = request.get("profile") or prefect.context.get_settings_context().profile.name
    if name not in profiles.names:
        raise ValueError("Profile %r does not exist." % name)
    changes = dict(request.get("set") or {})
    changes.update({n: None for n in request.get("unset") or []})
    profiles.update_profile(name, changes)
    profiles[name].validate_settings()
    _save_profiles(profiles)
    from prefect.settings import get_current_settings

    return {"profile": name, "path": str(get_current_settings().profiles_path)}


OPS = {"describe": describe, "validate": validate, "profile-get": profile_get, "profile-update": profile_update}


def main():
    # Anything Prefect prints must not corrupt the dialog: answers go to the real stdout only.
    out = sys.stdout
    sys.stdout = sys.stderr
    hello = {"python": _library._python(), "prefect": _library._prefect_distribution()}
    out.write(json.dumps(hello, ensure_ascii=True) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = {"ok": True, "result": OPS[request["op"]](request)}
        except Exception as exc:  # reported to the backend, which turns it into a protocol error
            answer = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        out.write(json.dumps(answer, ensure_ascii=True, default=str) + "\n")
        out.flush()


main()
