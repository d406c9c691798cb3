"""Windows-only checks, judged from facts the Windows adapter gathered."""
from __future__ import annotations

import ntpath
import re
from typing import Optional

from prefectwin.diagnosis.checks.base import check, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts, FirewallRule
from prefectwin.hosts import LOOPBACK_HOSTS

GOOD_POLICIES = {"RemoteSigned", "Unrestricted", "Bypass"}
POLICY_PRECEDENCE = ("MachinePolicy", "UserPolicy", "Process", "CurrentUser", "LocalMachine")
# 2.24 leaves services 'paused' on Windows 10 and later; the 2.24-101 prerelease fixes it.
NSSM_FIXED = (2, 24, 101)
NSSM_INSTALL = "Install NSSM 2.24-101 or later: 'winget install NSSM.NSSM' or 'choco install nssm', then make sure nssm.exe is on PATH."


def _not_windows(facts: Facts):
    if facts.windows is None:
        return skipped(f"Windows only; this machine runs {facts.os_name}.")
    return None


@check("windows.admin", "windows")
def windows_admin(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    if facts.windows.is_admin:
        return passed("Running with administrator rights.")
    return warn(
        "Not running as administrator: services, firewall rules and machine settings cannot be changed.",
        "Start PowerShell with 'Run as administrator' before Install-PrefectService or Repair-PrefectEnvironment.",
    )


def effective_policy(policies: dict[str, str]) -> tuple[Optional[str], Optional[str]]:
    for scope in POLICY_PRECEDENCE:
        value = policies.get(scope)
        if value and value != "Undefined":
            return value, scope
    return None, None


@check("windows.execution-policy", "windows")
def windows_execution_policy(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    policy, scope = effective_policy(facts.windows.execution_policies)
    data = dict(effective=policy, scope=scope, scopes=facts.windows.execution_policies)
    if policy in GOOD_POLICIES:
        return passed(f"Execution policy is {policy} (from {scope}).", **data)
    shown = f"{policy} (from {scope})" if policy else "undefined (Restricted on Windows clients)"
    if scope in ("MachinePolicy", "UserPolicy"):
        fix = "The policy is set by Group Policy; ask your domain administrator for RemoteSigned."
    else:
        fix = "Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy RemoteSigned"
    return warn(f"Execution policy is {shown}: unsigned module scripts will not load.", fix, **data)


def ports_cover(spec: str, port: int) -> bool:
    for part in re.split(r"\s*,\s*", spec.strip()):
        if part.lower() in ("any", "*"):
            return True
        if "-" in part:
            low, _, high = part.partition("-")
            if low.strip().isdigit() and high.strip().isdigit() and int(low) <= port <= int(high):
                return True
        elif part.isdigit() and int(part) == port:
            return True
    return False


def allowing_rules(rules: tuple[FirewallRule, ...], port: int) -> list[FirewallRule]:
    return [
        r
        for r in rules
        if r.enabled and r.inbound and r.allow and r.protocol.upper() in ("TCP", "6", "ANY", "256") and ports_cover(r.local_ports, port)
    ]


@check("windows.firewall", "windows", "probe")
def windows_firewall(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    if facts.role == "Worker":
        return skipped("Workers only make outbound connections; no inbound rule is needed.")
    port = facts.requested_port or facts.prefect.server_port or 4200
    host = facts.prefect.server_host or "127.0.0.1"
    if host in LOOPBACK_HOSTS:
        return passed(f"The server binds {host} only, so no inbound firewall rule is needed.", port=port, host=host)
    win = facts.windows
    if win.firewall_rules is None:
        return warn(f"Firewall rules could not be read: {win.firewall_error}.", "Run elevated to read the firewall rules.", port=port)
    rules = allowing_rules(win.firewall_rules, port)
    if rules:
        return passed(f"Inbound TCP {port} is allowed by rule '{rules[0].name}'.", port=port, rules=[r.name for r in rules])
    return warn(
        f"No enabled inbound rule allows TCP {port}; remote workers and browsers cannot reach the server.",
        f"New-NetFirewallRule -DisplayName 'Prefect server {port}' -Direction Inbound -Protocol TCP -LocalPort {port} -Action Allow -RemoteAddress LocalSubnet -Profile Domain,Private (or Repair-PrefectEnvironment -Check windows.firewall).",
        port=port,
    )


def _names_port(spec: str, port: int) -> bool:
    """Whether a rule's local ports name this port, not merely allow every port."""
    return spec.strip().lower() not in ("any", "*") and ports_cover(spec, port)


@check("windows.firewall-scope", "windows", "probe")
def windows_firewall_scope(facts: Facts):
    """PrefectWin's own rules, and any rule for the Prefect port, should let in only the
    addresses that need the API (Install-PrefectService -AllowFrom; LocalSubnet by default)."""
    from prefectwin.services.firewall import open_to_everyone

    if (skip := _not_windows(facts)) is not None:
        return skip
    win = facts.windows
    if win.firewall_rules is None:
        return skipped(f"Firewall rules could not be read: {win.firewall_error}.")
    port = facts.requested_port or facts.prefect.server_port or 4200
    relevant = [
        r
        for r in win.firewall_rules
        if r.enabled and r.inbound and r.allow and (r.name.startswith("PrefectWin-") or (r.protocol.upper() in ("TCP", "6", "ANY", "256") and _names_port(r.local_ports, port)))
    ]
    unknown = [r.name for r in relevant if r.remote_addresses is None]
    wide = [r for r in relevant if r.remote_addresses is not None and open_to_everyone(r.remote_addresses)]
    if wide:
        public = [r.name for r in wide if r.profiles is None or "Public" in r.profiles]
        names = ", ".join(f"'{r.name}'" for r in wide)
        message = f"Inbound rule{'s' if len(wide) > 1 else ''} {names} let{'' if len(wide) > 1 else 's'} every address reach TCP {port}"
        if public:
            message += ", on public networks too"
        return warn(
            message + ": anyone who reaches the Prefect API can have its workers run code.",
            f"Set-NetFirewallRule -DisplayName {wide[0].name!r} -RemoteAddress LocalSubnet -Profile Domain,Private "
            "(or the addresses that need it), or reinstall with Install-PrefectService -OpenFirewall -AllowFrom <addresses or subnets>.",
            port=port,
            rules=[r.name for r in wide],
            public=public,
        )
    if unknown:
        return skipped(f"The remote addresses of {', '.join(repr(n) for n in unknown)} could not be read.", port=port, rules=unknown)
    if not relevant:
        return passed(f"No PrefectWin or TCP {port} inbound rule is open.", port=port)
    return passed(
        f"Every PrefectWin or TCP {port} inbound rule is limited to some remote addresses.",
        port=port,
        rules={r.name: list(r.remote_addresses or ()) for r in relevant},
    )


def _norm(path: str) -> str:
    return ntpath.normcase(ntpath.normpath(path)).rstrip("\\")


def is_excluded(path: str, exclusions: tuple[str, ...]) -> bool:
    target = _norm(path)
    return any(target == _norm(e) or target.startswith(_norm(e) + "\\") for e in exclusions)


@check("windows.defender", "windows", "probe")
def windows_defender(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    win = facts.windows
    wanted = {
        "PREFECT_HOME": facts.requested_home or facts.prefect.home,
        "Python": facts.python.base_prefix or (ntpath.dirname(facts.python.executable) if facts.python.executable else None),
        "TEMP": win.temp_dir,
    }
    wanted = {k: v for k, v in wanted.items() if v}
    if win.defender_exclusions is None:
        return warn(f"Defender exclusions could not be read: {win.defender_error}.", "Run elevated to read Defender's exclusions.", wanted=wanted)
    missing = {k: v for k, v in wanted.items() if not is_excluded(v, win.defender_exclusions)}
    if not missing:
        return passed("PREFECT_HOME, the Python directory and TEMP are excluded from Defender scanning.", wanted=wanted)
    paths = ", ".join(f"'{v}'" for v in missing.values())
    return warn(
        f"Defender scans {', '.join(missing)}: flow runs start slowly and SQLite may hit 'database is locked'.",
        f"Add-MpPreference -ExclusionPath {paths} (or Repair-PrefectEnvironment -Check windows.defender).",
        missing=missing,
    )


@check("windows.long-paths", "windows")
def windows_long_paths(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    if facts.windows.long_paths_enabled:
        return passed("Win32 long paths are enabled.")
    return warn(
        "Win32 long paths are disabled: deep virtual environments and flow code paths over 260 characters fail.",
        "Set HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem\\LongPathsEnabled to 1 (Repair-PrefectEnvironment -Check windows.long-paths, elevated).",
    )


def nssm_version_tuple(text: Optional[str]) -> Optional[tuple[int, int, int]]:
    if not text:
        return None
    numbers = [int(n) for n in re.findall(r"\d+", text)[:3]]
    if len(numbers) < 2:
        return None
    return tuple((numbers + [0])[:3])  # type: ignore[return-value]


@check("windows.nssm", "windows")
def windows_nssm(facts: Facts):
    if (skip := _not_windows(facts)) is not None:
        return skip
    win = facts.windows
    if not win.nssm_path:
        return warn("NSSM is not on PATH; Install-PrefectService needs it.", NSSM_INSTALL)
    version = nssm_version_tuple(win.nssm_version)
    data = dict(path=win.nssm_path, version=win.nssm_version)
    if version is None:
        return warn(f"NSSM at {win.nssm_path} reports no readable version ({win.nssm_version}).", NSSM_INSTALL, **data)
    if version < NSSM_FIXED:
        return warn(f"NSSM {win.nssm_version} leaves services 'paused' on Windows 10 and later.", NSSM_INSTALL, **data)
    return passed(f"NSSM {win.nssm_version} at {win.nssm_path}.", **data)
