"""A real Prefect server as a service of the POSIX stand-in for the SCM, for the Pester files
(Upgrade.Tests.ps1) that cannot build a ServiceSpec themselves. Install-PrefectService itself
does not run on Linux (accounts, ACLs and firewall rules are Windows'), so the service is
installed here the way tests/test_service_upgrade.py installs it: a real ServiceSpec's NSSM
parameters and marker, written through the stand-in.

    python tests/standin_service.py install ROOT WORK RELEASE NAME
        copies the cached RELEASE target venv (tests/target_venvs.py) to WORK/venv, so the
        cache is never changed (symlinks kept: bin/python is one; the copy runs as
        `<copy>/bin/python -m prefect`, since its console scripts point at the original),
        installs service NAME (a server on a free loopback port, PREFECT_HOME WORK/home) in
        the stand-in folder ROOT, and prints {python, apiUrl, database, port} as JSON.
        Nothing is started: the caller starts it (Restart-PrefectService).
    python tests/standin_service.py stop ROOT NAME
        stops it as NSSM would (Ctrl-C to its process group, then the group killed).
"""
from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install(root: str, work: str, release: str, name: str) -> dict:
    from service_helpers import install_params
    from target_venvs import build

    from prefectwin.services.plan import reveal
    from prefectwin.services.spec import build_spec
    from prefectwin.system.posix import PosixAdapter
    from prefectwin.system.posix_standin import StandInServices

    venv = Path(work) / "venv"
    shutil.copytree(Path(build(release)).parent.parent, venv, symlinks=True)
    python = str(venv / "bin" / "python")
    spec = build_spec(
        install_params(name=name, prefect_home=str(Path(work) / "home"), port=_free_port(), python_path=python),
        python=python, default_home="/unused", host=socket.gethostname(), flavor="posix",
    )
    adapter = PosixAdapter(services=StandInServices(root))
    adapter.nssm_install(None, name, spec.application)
    for parameter, values in spec.nssm_parameters().items():
        if values:
            adapter.nssm_set(None, name, parameter, reveal(values))
    adapter.write_marker(name, spec.marker())
    return {"python": python, "apiUrl": spec.api_url, "database": spec.sqlite_path, "port": spec.port}


def stop(root: str, name: str) -> None:
    from prefectwin.system.posix_standin import StandInServices

    StandInServices(root).stop_service(name, 30)


if __name__ == "__main__":
    verb, *arguments = sys.argv[1:]
    if verb == "install":
        print(json.dumps(install(*arguments)))
    elif verb == "stop":
        stop(*arguments)
    else:
        raise SystemExit(f"unknown verb {verb!r}: install ROOT WORK RELEASE NAME, or stop ROOT NAME")
