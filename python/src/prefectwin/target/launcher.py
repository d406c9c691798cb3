"""The launcher of a service that has secret variables which are not Prefect settings.

PrefectWin writes this file, unchanged, beside the service's secrets file, and NSSM runs
`python <this file> <secrets file> -m prefect ...`. It runs in the service's own interpreter,
where prefectwin is not installed, so it uses the standard library only (and Python 3.9's).

A Prefect profile can carry Prefect settings only, and NSSM's registry values are readable by
local users. So a variable such as AWS_SECRET_ACCESS_KEY is kept in the secrets file's
`[prefectwin.environment]` table (only the service's account and Administrators may read the
file), and this launcher puts it into the process environment before Prefect starts, in the
same process: NSSM's Ctrl-C, its process tracking and Prefect's flow-run children all work as
with `python -m prefect`. Everything Prefect starts inherits the variables.
"""
import os
import runpy
import sys

ENVIRONMENT_TABLE = "prefectwin.environment"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def unescape(body):
    """The text of a TOML basic string's body, as PrefectWin writes them (spec.toml_string)."""
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            kind = body[i + 1]
            width = {"u": 4, "U": 8}.get(kind)
            if width:
                out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                i += 2 + width
                continue
            out.append(_ESCAPES.get(kind, kind))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _string(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return unescape(text[1:-1])
    return text


def read_variables(text):
    """The `KEY = "value"` lines of the `[prefectwin.environment]` table."""
    found, table = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            table = stripped.strip("[]").strip()
            continue
        key, sep, value = stripped.partition(" = ")
        if sep and table == ENVIRONMENT_TABLE:
            found[_string(key)] = _string(value)
    return found


def main(argv):
    if len(argv) < 3 or argv[1] != "-m":
        sys.stderr.write("PrefectWin launcher: usage: launcher.py SECRETS_FILE -m MODULE [ARGUMENTS...]\n")
        return 2
    path, module, arguments = argv[0], argv[2], argv[3:]
    try:
        with open(path, encoding="utf-8") as handle:
            variables = read_variables(handle.read())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # The path only: never the file's text.
        sys.stderr.write(f"PrefectWin launcher: cannot read the secrets file {path}: {type(exc).__name__}\n")
        return 1
    os.environ.update(variables)
    # As `python -m MODULE` has them: the working directory first on sys.path, and argv[0]
    # the module's file (run_module sets it).
    sys.argv = [module, *arguments]
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
