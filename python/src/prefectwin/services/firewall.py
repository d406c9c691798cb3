"""The server's inbound firewall rule: which remote addresses and profiles it allows. Pure.

Windows Firewall (netsh advfirewall's `remoteip`, New-NetFirewallRule's -RemoteAddress) takes
single IPv4/IPv6 addresses, subnets (CIDR or address/mask), ranges (low-high) and a few
keywords. PrefectWin's default is the narrowest useful one: `LocalSubnet` on the Domain and
Private profiles. Public networks (a laptop on hotel Wi-Fi) are left out unless asked for.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Optional, Sequence, Union

from prefectwin.errors import InvalidArgument

DEFAULT_REMOTE_ADDRESSES = ("LocalSubnet",)
PROFILES = ("Domain", "Private", "Public")
DEFAULT_PROFILES = ("Domain", "Private")
# The keywords netsh's remoteip takes, in the spelling Windows shows them.
KEYWORDS = {k.lower(): k for k in ("Any", "LocalSubnet", "DNS", "DHCP", "WINS", "DefaultGateway")}
# What a rule that is open to every address looks like, as Windows reports it.
EVERY_ADDRESS = frozenset({"any", "*", "0.0.0.0/0", "::/0", "0.0.0.0-255.255.255.255"})
# Windows' profile bit field (MSFT_NetFirewallRule.Profile): 0 means every profile.
PROFILE_BITS = {"Domain": 1, "Private": 2, "Public": 4}

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _bad(value: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"-AllowFrom '{value}' is not an address Windows Firewall takes: {why}.",
        target="AllowFrom",
        remediation="Give IPv4 or IPv6 addresses (10.0.0.5), subnets (10.0.0.0/24 or 10.0.0.0/255.255.255.0), "
        "ranges (10.0.0.5-10.0.0.9) or a keyword: " + ", ".join(KEYWORDS.values()) + ".",
    )


def _network(text: str) -> Network:
    """A subnet in CIDR or address/mask form; host bits are an error, as Windows makes them."""
    return ipaddress.ip_network(text, strict=True)


def normalize_address(value: str) -> str:
    """One -AllowFrom entry in its canonical form; InvalidArgument (target AllowFrom) if Windows
    would not take it."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise _bad(str(value), "it is empty")
    keyword = KEYWORDS.get(text.lower())
    if keyword:
        return keyword
    if "," in text or " " in text:
        raise _bad(text, "give each address as its own value, not a list in one string")
    if "-" in text:
        low_text, _, high_text = text.partition("-")
        try:
            low, high = ipaddress.ip_address(low_text.strip()), ipaddress.ip_address(high_text.strip())
        except ValueError:
            raise _bad(text, "a range is two addresses joined by '-'") from None
        if low.version != high.version:
            raise _bad(text, "a range's two ends must both be IPv4 or both IPv6")
        if low > high:
            raise _bad(text, "a range's first address must not be above its last")
        return f"{low}-{high}" if low != high else str(low)
    if "/" in text:
        try:
            return _network(text).with_prefixlen
        except ValueError as exc:
            raise _bad(text, "not a subnet (host bits set, or a bad prefix or mask)" if "host bits" in str(exc) else "not a subnet") from None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _bad(text, "not an IP address, subnet, range or keyword (host names are not accepted)") from None


def remote_addresses(values: Optional[Sequence[str]]) -> tuple[str, ...]:
    """-AllowFrom, checked and canonical, duplicates dropped; the default when none is given."""
    if not values:
        return DEFAULT_REMOTE_ADDRESSES
    found = tuple(dict.fromkeys(normalize_address(v) for v in values))
    if "Any" in found and len(found) > 1:
        raise InvalidArgument(
            "-AllowFrom Any already allows every address; the other entries would mean nothing.",
            target="AllowFrom",
            remediation="Give either Any alone, or only the addresses and subnets that need the server.",
        )
    return found


def profiles(values: Optional[Sequence[str]]) -> tuple[str, ...]:
    """-FirewallProfile in Windows' order; Domain and Private when none is given."""
    if not values:
        return DEFAULT_PROFILES
    by_name = {p.lower(): p for p in PROFILES}
    chosen = set()
    for value in values:
        name = by_name.get(str(value).strip().lower())
        if name is None:
            raise InvalidArgument(
                f"-FirewallProfile '{value}' is not a firewall profile.",
                target="FirewallProfile",
                remediation="Give Domain, Private and/or Public.",
            )
        chosen.add(name)
    return tuple(p for p in PROFILES if p in chosen)


def profiles_from_bits(bits: int) -> tuple[str, ...]:
    """MSFT_NetFirewallRule.Profile as names; 0 (Any) is every profile."""
    return tuple(p for p in PROFILES if not bits or bits & PROFILE_BITS[p])


def _canonical(value: str) -> str:
    """An address as Windows may report it (10.0.0.0/255.255.255.0, 'LocalSubnet'), in the form
    normalize_address gives, for comparing; what it cannot parse stays as it is, lower-cased."""
    try:
        return normalize_address(value).lower()
    except InvalidArgument:
        if "/" in value:
            try:
                return ipaddress.ip_network(value.strip(), strict=False).with_prefixlen.lower()
            except ValueError:
                pass
        return value.strip().lower()


def same_scope(wanted: tuple[Iterable[str], Iterable[str]], have: Optional[tuple[Iterable[str], Iterable[str]]]) -> bool:
    """Whether a rule's (remote addresses, profiles) as read back match the wanted ones."""
    if have is None:
        return False
    want_addresses, want_profiles = wanted
    have_addresses, have_profiles = have
    return {_canonical(a) for a in want_addresses} == {_canonical(a) for a in have_addresses} and set(want_profiles) == set(have_profiles)


def open_to_everyone(addresses: Iterable[str]) -> bool:
    """Whether remote addresses as Windows reports them let every address in."""
    found = [a.strip().lower() for a in addresses]
    return not found or any(a in EVERY_ADDRESS for a in found)


def scope_warning(spec: Any) -> Optional[str]:
    """What a server's rule open to every address exposes (-AllowFrom Any), in the words of the
    diagnosis check windows.firewall-scope, which warns about the same rule once it exists."""
    addresses = tuple(getattr(spec, "firewall_remote_addresses", ()) or ())
    if not getattr(spec, "firewall_rule", None) or not open_to_everyone(addresses):
        return None
    chosen = tuple(getattr(spec, "firewall_profiles", ()) or ())
    where = ", on public networks too" if "Public" in chosen else ""
    return (
        f"Inbound rule '{spec.firewall_rule}' will let every address reach TCP {spec.port}{where} (-AllowFrom Any): "
        "anyone who reaches the Prefect API can have its workers run code. "
        "Prefer -AllowFrom with the addresses or subnets of the workers and admins that need it (the default is LocalSubnet)."
    )


def describe_scope(addresses: Sequence[str], chosen_profiles: Sequence[str]) -> str:
    """How a plan shows a rule's scope: 'from LocalSubnet on the Domain, Private profiles'."""
    return f"from {', '.join(addresses) or 'any address'} on the {', '.join(chosen_profiles) or 'every'} profile{'s' if len(chosen_profiles) != 1 else ''}"
