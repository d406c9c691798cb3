"""Passwords never appear in any output: not in the response, not in stderr (verbose, debug,
progress), not in error messages, not in the doctor's table or JSON."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefectwin.secrets import MASK, mask_url, scrub


@pytest.fixture(autouse=True)
def _in_an_empty_folder(monkeypatch, neutral_cwd):
    """In-process diagnoses and doctor runs probe Prefect in the working directory."""
    monkeypatch.chdir(neutral_cwd)


# ------------------------------------------------------------------------------------------
# units
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, masked",
    [
        ("postgresql+asyncpg://prefect:hunter2@db01:5432/prefect", "postgresql+asyncpg://prefect:********@db01:5432/prefect"),
        ("postgresql://prefect:p%40ss%3Aw%2Frd@db01/prefect", "postgresql://prefect:********@db01/prefect"),
        ("postgresql+asyncpg://prefect:Raw@Secret-91@db01:5432/prefect", "postgresql+asyncpg://prefect:********@db01:5432/prefect"),
        ("postgresql://:only-pw@db01/prefect", "postgresql://:********@db01/prefect"),
        ("postgresql+asyncpg://prefect:pw@db01/prefect?ssl=require&application_name=a@b", "postgresql+asyncpg://prefect:********@db01/prefect?ssl=require&application_name=a@b"),
        ("postgresql://prefect@db01/prefect", "postgresql://prefect@db01/prefect"),
        ("sqlite+aiosqlite:////var/lib/prefect/prefect.db", "sqlite+aiosqlite:////var/lib/prefect/prefect.db"),
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api"),
        ("https://user:tok@prefect.corp/api", "https://user:********@prefect.corp/api"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_url_in_running_text_masks_every_url():
    text = "tried postgresql://a:one@h1/db, then postgresql://b:two@h2:5433/db (both failed)"
    assert mask_url(text) == "tried postgresql://a:********@h1/db, then postgresql://b:********@h2:5433/db (both failed)"


@settings(max_examples=300, deadline=None)
@given(
    password=st.text(
        # Anything but whitespace and what ends a URL authority ('/', '?', '#'), which no URL
        # parser reads as part of a password; '@' and ':' are allowed, encoded or not.
        alphabet=st.characters(blacklist_categories=("Z", "C"), blacklist_characters="/?#"),
        min_size=1,
        max_size=30,
    ),
    encode=st.booleans(),
)
def test_mask_url_hides_any_password(password, encode):
    shown = urllib.parse.quote(password, safe="") if encode else password
    url = f"postgresql+asyncpg://prefect:{shown}@db01:5432/prefect"
    assert mask_url(url) == "postgresql+asyncpg://prefect:********@db01:5432/prefect"
    assert mask_url(f"failed: {url}: refused") == "failed: postgresql+asyncpg://prefect:********@db01:5432/prefect: refused"


def test_mask_url_none():
    assert mask_url(None) is None


def test_scrub_replaces_known_secrets_then_urls():
    text = 'password authentication failed for user "prefect" (password was S3cr3t!) at postgresql://prefect:S3cr3t!@h/db'
    out = scrub(text, "S3cr3t!", None, "")
    assert "S3cr3t!" not in out and out.count(MASK) == 2
    assert scrub("nothing here", None) == "nothing here"
    assert scrub("postgresql://u:x@h/db") == f"postgresql://u:{MASK}@h/db"


# ------------------------------------------------------------------------------------------
# scans through the real bridge and the real doctor
# ------------------------------------------------------------------------------------------
def forms(password: str) -> list[str]:
    """Every way a password could leak: as typed, percent-encoded (both flavours)."""
    return sorted({password, urllib.parse.quote(password, safe=""), urllib.parse.quote_plus(password)})


def assert_nowhere(password: str, *texts: str) -> None:
    for form in forms(password):
        for text in texts:
            assert form not in text, f"secret {form!r} leaked into:\n{text}"


def scan_everything(run_rpc, url: str, password: str, role: str = "Server") -> dict:
    """environment.test (all checks) via rpc, in-process, and the doctor (JSON and table)."""
    env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url}
    result = run_rpc({"protocol": 1, "command": "environment.test", "params": {"role": role}}, env=env)
    assert result.code == 0
    assert_nowhere(password, result.stdout_text, result.stderr_text)

    doctor_env = {**_env(), **env}
    for args in (["doctor", "--json"], ["doctor"]):
        done = subprocess.run([sys.executable, "-m", "prefectwin", *args], capture_output=True, text=True, env=doctor_env, timeout=120)
        assert done.returncode in (0, 1), done.stderr
        assert_nowhere(password, done.stdout, done.stderr)
    return result.checks


def _env() -> dict:
    import os

    return dict(os.environ, COLUMNS="200")


DISTINCTIVE = "Zq7-Distinctive-Pw"
SPECIAL = "p@ss:w/rd%?#&+ 'x\"y"  # everything a URL or SQL literal could trip over


def test_wrong_password_is_never_shown(run_rpc, throwaway_postgres):
    checks = scan_everything(run_rpc, throwaway_postgres.url(password=DISTINCTIVE), DISTINCTIVE)
    assert checks["database"]["data"]["outcome"] == "auth-failed"
    assert MASK in checks["database"]["data"]["url"]


def test_right_password_is_never_shown(run_rpc, throwaway_postgres):
    checks = scan_everything(run_rpc, throwaway_postgres.url(), throwaway_postgres.password)
    assert checks["database"]["data"]["outcome"] == "connected"


@pytest.fixture(scope="module")
def special_role(throwaway_postgres):
    """A real role whose password has URL- and SQL-special characters."""
    literal = SPECIAL.replace("'", "''")
    throwaway_postgres.execute(f"CREATE ROLE special_user LOGIN PASSWORD '{literal}'")
    return "special_user"


def test_percent_encoded_special_password_connects_and_is_never_shown(run_rpc, throwaway_postgres, special_role):
    url = throwaway_postgres.url(user=special_role, password=SPECIAL)
    assert urllib.parse.quote(SPECIAL, safe="") in url  # the URL really carries it percent-encoded
    checks = scan_everything(run_rpc, url, SPECIAL)
    assert checks["database"]["data"]["outcome"] == "connected", checks["database"]


def test_percent_encoded_special_password_wrong_is_never_shown(run_rpc, throwaway_postgres, special_role):
    wrong = SPECIAL + "-nope"
    checks = scan_everything(run_rpc, throwaway_postgres.url(user=special_role, password=wrong), wrong)
    assert checks["database"]["data"]["outcome"] == "auth-failed"


def test_raw_at_sign_in_password_is_never_shown(run_rpc, throwaway_postgres):
    # Not percent-encoded, as people do type them: the password runs to the LAST '@'.
    password = "Raw@Secret-91"
    url = f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{throwaway_postgres.port}/prefect"
    checks = scan_everything(run_rpc, url, password)
    # SQLAlchemy and asyncpg split at the FIRST '@', so the connection cannot work: the check
    # says so and how to fix it, and no part of what the user meant as the password is printed.
    assert_nowhere("Secret-91", json.dumps(checks))
    assert checks["database"]["status"] == "Fail" and checks["database"]["data"]["outcome"] == "bad-url"
    assert "%40" in checks["database"]["remediation"]


def test_raw_slash_in_password_is_never_shown(run_rpc, free_port):
    # An unencoded '/' ends the URL's authority early: what follows the user's ':' is read as a
    # port, and urllib's ValueError quoted it (the start of the password) in a debug traceback.
    password = "Slash77/Secret-tail"
    url = f"postgresql+asyncpg://prefect:{password}@127.0.0.1:{free_port()}/prefect"
    checks = scan_everything(run_rpc, url, "Slash77")  # no part of it, anywhere
    assert checks["database"]["status"] == "Fail" and checks["database"]["data"]["outcome"] == "bad-url"


def test_unreachable_database_error_is_never_shown(run_rpc, free_port):
    password = "Unreach-Pw-77"
    url = f"postgresql+asyncpg://prefect:{password}@127.0.0.1:{free_port()}/prefect"
    checks = scan_everything(run_rpc, url, password, role="Server")
    assert checks["database"]["data"]["outcome"] == "unreachable"


def test_password_not_shown_when_prefect_settings_fail_to_load(run_rpc, free_port):
    password = "Broken-Settings-Pw-3"
    url = f"postgresql+asyncpg://prefect:{password}@127.0.0.1:{free_port()}/prefect"
    env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url, "PREFECT_SERVER_API_PORT": "not-a-port"}
    result = run_rpc({"protocol": 1, "command": "environment.test", "params": {}}, env=env)
    assert result.checks["settings.profile"]["status"] == "Fail"  # the settings error is reported...
    assert_nowhere(password, result.stdout_text, result.stderr_text)  # ...without the password


def test_in_process_events_carry_no_secret(throwaway_postgres, monkeypatch):
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", throwaway_postgres.url(password=DISTINCTIVE))
    stream = io.StringIO()
    response, code = handle(json.dumps({"protocol": 1, "command": "environment.test", "params": {"check": ["database"]}}).encode(), Events(stream))
    assert code == 0 and response["result"][0]["data"]["outcome"] == "auth-failed"
    assert_nowhere(DISTINCTIVE, json.dumps(response), stream.getvalue())
