"""Will Prefect's output be UTF-8? Rich's spinners raise 'charmap' errors on cp1252."""
from __future__ import annotations

import codecs
from typing import Optional

from prefectwin.diagnosis.checks.base import check, passed, warn
from prefectwin.diagnosis.facts import Facts

UTF8_CODE_PAGE = 65001
FIX = "Set PYTHONIOENCODING=utf-8 and PYTHONUTF8=1 for the user and for services (Repair-PrefectEnvironment does the first)."


def _normal(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name.split(":", 1)[0]).name
    except LookupError:
        return name.lower()


def effective_output_encoding(facts: Facts) -> tuple[Optional[str], str]:
    """The encoding Prefect's stdout would use, and what decided it, in Python's own order."""
    enc = facts.encoding
    if _normal(enc.pythonioencoding):
        return _normal(enc.pythonioencoding), "PYTHONIOENCODING"
    if enc.pythonutf8 == "1" or facts.python.utf8_mode:
        return "utf-8", "PYTHONUTF8"
    if enc.console_code_page is not None:
        return ("utf-8" if enc.console_code_page == UTF8_CODE_PAGE else f"cp{enc.console_code_page}"), "console code page"
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
        return passed(f"Output is UTF-8 (decided by {decided_by}).", **data)
    return warn(f"Output would be {effective} (decided by {decided_by}), not UTF-8: Prefect's Rich spinners raise 'charmap' codec errors.", FIX, **data)
