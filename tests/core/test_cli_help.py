"""`yingji --help` on a fresh machine (no SECRET_KEY yet) lists the project's own commands and
names the missing setting once; a real command still refuses to run, in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PROJECT_COMMANDS = ("demo", "serve", "worker", "createuser", "token", "escalate_overdue", "refresh_figures")


def _yingji(*args, **env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "DEBUG", "YINGJI_INSECURE_DEV_KEY", "DJANGO_SETTINGS_MODULE",
                        "YINGJI_HELP_ONLY"}}
    env.update(PYTHONPATH=str(SRC), **env_extra)
    return subprocess.run([sys.executable, "-c", "import sys; from yingji.cli import main; main(sys.argv)", *args],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("--help",), (), ("help",)])
def test_help_without_secret_key_lists_project_commands(args):
    r = _yingji(*args)
    assert r.returncode == 0, r.stderr
    listed = {line.strip() for line in r.stdout.splitlines()}
    assert set(PROJECT_COMMANDS) <= listed
    assert "only Django core commands are listed" not in r.stdout + r.stderr
    assert r.stderr.count("SECRET_KEY must be set") == 1
    assert "Traceback" not in r.stderr


def test_help_of_one_command_without_secret_key():
    r = _yingji("demo", "--help")
    assert r.returncode == 0 and "--no-migrate" in r.stdout
    assert r.stderr.count("SECRET_KEY must be set") == 1


def test_help_names_every_malformed_setting():
    r = _yingji("--help", DATABASE_URL="mysql://db/x", YINGJI_ATTACHMENT_MAX_BYTES="lots")
    assert r.returncode == 0 and "demo" in {line.strip() for line in r.stdout.splitlines()}
    assert "DATABASE_URL must point to PostgreSQL or SQLite" in r.stderr
    assert "YINGJI_ATTACHMENT_MAX_BYTES must be an integer" in r.stderr


def test_help_of_a_configured_machine_says_nothing_more():
    r = _yingji("--help", SECRET_KEY="configured")
    assert r.returncode == 0 and "demo" in {line.strip() for line in r.stdout.splitlines()}
    assert "not configured" not in r.stderr


def test_a_real_command_without_secret_key_still_refuses_in_one_line():
    r = _yingji("check", YINGJI_HELP_ONLY="1")   # an inherited help flag does not let it run
    assert r.returncode == 2
    assert r.stderr.strip() == ("yingji: configuration error: SECRET_KEY must be set "
                                "(or DEBUG=true for local development)")
