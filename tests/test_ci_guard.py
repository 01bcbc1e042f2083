"""Under CI=true an unreachable PostgreSQL, or a missing chromium, fails the run instead of
skipping its tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest_with(env_changes: dict[str, str],
                    target: str = "tests/test_booking_service.py::test_search_bad_input",
                    ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_changes}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", target],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_unreachable_postgres_fails_under_ci() -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    result = run_pytest_with(
        {"CI": "true", "KASSA_TEST_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/test"}
    )
    assert result.returncode != 0
    assert "unreachable" in result.stdout
    assert "1 passed" in result.stdout  # the SQLite half still ran
    assert "skipped" not in result.stdout


def test_unset_url_fails_under_ci() -> None:
    result = run_pytest_with({"CI": "true", "KASSA_TEST_DATABASE_URL": ""})
    assert result.returncode != 0
    assert "KASSA_TEST_DATABASE_URL is not set" in result.stdout


BROWSER_TEST = "tests/test_checkout_browser.py::test_expired_hold_and_tampered_link_offer_no_pay"


def test_missing_chromium_fails_under_ci() -> None:
    result = run_pytest_with({"CI": "true", "KASSA_TEST_CHROMIUM": "/nonexistent/chromium"},
                             BROWSER_TEST)
    assert result.returncode != 0
    assert "CI=true: Debian's chromium is not installed" in result.stdout
    assert "skipped" not in result.stdout


def test_missing_chromium_skips_on_a_developer_machine() -> None:
    result = run_pytest_with({"CI": "", "KASSA_TEST_CHROMIUM": "/nonexistent/chromium"},
                             BROWSER_TEST)
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert "Debian's chromium is not installed" in result.stdout
