"""`make test` without Chromium says at the end, in one line, that the browser tests were skipped
and how to install it (the summary alone said only "16 skipped")."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINE = "Browser tests skipped"


def _pytest(*args, chromium):
    env = {**os.environ, "YINGJI_CHROMIUM": chromium, "SECRET_KEY": "test-secret", "YINGJI_STRICT_AUDIT": "1",
           "YINGJI_FAST_HASHER": "1", "YINGJI_COMPRESS_STATIC": "0"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_skipped_browser_tests_are_explained_with_the_install_command(tmp_path):
    missing = str(tmp_path / "no-chromium")
    r = _pytest("tests/browser/test_journeys.py", "-k", "sign_in_failure or language_switch", chromium=missing)
    lines = r.stdout.strip().splitlines()
    assert "2 skipped" in lines[-1], r.stdout[-3000:]
    ours = [line for line in lines if line.startswith(LINE)]
    assert ours == [f"{LINE} (2): no Chromium at {missing} — install it with: "
                    "apt-get install chromium fonts-noto-cjk"]


def test_no_line_when_no_browser_test_was_skipped(tmp_path):
    r = _pytest("tests/core/test_widgets.py", chromium=str(tmp_path / "no-chromium"))
    assert r.returncode == 0 and LINE not in r.stdout, r.stdout[-3000:]
