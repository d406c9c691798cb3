"""Will Prefect's output be UTF-8? Rich's spinners raise 'charmap' errors on cp1252."""
from __future__ import annotations

import codecs
from typing import Optional

from prefectwin.diagnosis.checks.base import check, passed, warn
from prefectwin.diagnosis.facts import Facts

FIX = "Set PYTHONIOENCODING=utf-8 and PYTHONUTF8=1 for the user and for services (Repair-PrefectEnvironment does the first)."


def _normal(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name.split(":", 1)[0]).name
    except LookupError:
        return name.lower()


def effective_output_encoding(facts: Facts) -> tuple[Optional[str], str]:
    """The encoding Prefect's output gets when it is redirected, and what decided it.

    Redirected output is what matters: a service's stdout goes to a log file. An interactive
    console gets UTF-8 from Python whatever its code page (PEP 528), so the console code page
    is reported but does not decide; for a file or pipe Python uses PYTHONIOENCODING, then
    UTF-8 mode, then the locale encoding (the ANSI code page on Windows, cp1252 on most).
    """
    enc = facts.encoding
    if _normal(enc.pythonioencoding):
        return _normal(enc.pythonioencoding), "PYTHONIOENCODING"
    if enc.pythonutf8 == "1" or facts.python.utf8_mode:
        return "utf-8", "PYTHONUTF8"
    return _normal(facts.python.preferred_encoding or enc.locale_encoding), "locale"


@check("encoding", "probe", "encoding")
def encoding(facts: Facts):
    enc = facts.encoding
    effective, decided_by = effective_output_encoding(facts)
    data = dict(
        effective=effective,
        decidedBy=decided_by,
        pythonIoEncoding=enc.pythonioencoding,
        pythonUtf8=enc.pythonutf8,
        consoleCodePage=enc.console_code_page,
        localeEncoding=facts.python.preferred_encoding or enc.locale_encoding,
    )
    if effective == "utf-8":
        return passed(f"Redirected output (a service's log) is UTF-8 (decided by {decided_by}).", **data)
    return warn(
        f"Redirected output (a service's log) would be {effective} (decided by {decided_by}), not UTF-8: Prefect's Rich spinners raise 'charmap' codec errors.",
        FIX,
        **data,
    )
