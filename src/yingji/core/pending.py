"""Pending uploads: the files of a form that is shown again, so that a validation error does not
drop them.

A browser never re-sends a file input: when a form with photos comes back with an error, the
photos are gone unless the server kept them. ``keep`` stores the uploaded files of such a form under
``MEDIA_ROOT/pending/<user id>/<token>/`` (outside the web root, never served) and returns the
token; the page lists the kept files and carries the token in a hidden field; on the next submit
``take`` opens them again (as Django ``File`` objects the attachment service reads like uploads) and
``discard`` removes them once the record is saved.

Bounds: a token belongs to one user (the path has the user's id; another user's token is simply
not found); at most ``MAX_FILES_PER_FIELD`` files per field, each within
``settings.ATTACHMENT_MAX_BYTES``, of a type the attachment service accepts; at most
``MAX_TOKENS_PER_USER`` tokens per user (the oldest go first); tokens older than ``TTL_SECONDS``
are removed by the next ``keep`` of anyone.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from . import attachments
from .errors import InvalidInput

PENDING_DIR = "pending"
TTL_SECONDS = 24 * 3600
MAX_TOKENS_PER_USER = 5
MAX_FILES_PER_FIELD = 10
MANIFEST = "manifest.json"
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class KeptFile:
    field: str
    index: int
    name: str
    size: int
    path: Path

    @property
    def key(self) -> str:
        """The value of the file's "keep" checkbox."""
        return f"{self.field}:{self.index}"


def _root() -> Path:
    return Path(settings.MEDIA_ROOT) / PENDING_DIR


def _user_dir(user) -> Path:
    return _root() / str(int(user.pk))


def _token_dir(user, token) -> Path | None:
    if not isinstance(token, str) or not TOKEN_RE.match(token) or not getattr(user, "pk", None):
        return None
    return _user_dir(user) / token


def _read_manifest(folder: Path) -> list[dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def _expired(folder: Path, now: float) -> bool:
    try:
        return now - folder.stat().st_mtime > TTL_SECONDS
    except OSError:
        return False


def sweep(now: float | None = None) -> int:
    """Remove every token older than ``TTL_SECONDS``; returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    root = _root()
    if not root.is_dir():
        return 0
    for user_dir in root.iterdir():
        if not user_dir.is_dir():
            continue
        for folder in user_dir.iterdir():
            if folder.is_dir() and _expired(folder, now):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def _trim_user(user, keep_token: str) -> None:
    folders = [f for f in _user_dir(user).iterdir() if f.is_dir() and f.name != keep_token]
    folders.sort(key=lambda f: f.stat().st_mtime)
    for folder in folders[: max(0, len(folders) - (MAX_TOKENS_PER_USER - 1))]:
        shutil.rmtree(folder, ignore_errors=True)


def listed(user, token) -> list[KeptFile]:
    """The files kept under ``token`` for ``user`` (empty for an unknown, expired or foreign token)."""
    folder = _token_dir(user, token)
    if folder is None or not folder.is_dir() or _expired(folder, time.time()):
        return []
    kept = []
    for row in _read_manifest(folder):
        try:
            path = folder / os.path.basename(str(row["file"]))
            item = KeptFile(str(row["field"]), int(row["index"]), str(row["name"]), int(row["size"]), path)
        except (KeyError, TypeError, ValueError):
            continue
        if path.is_file():
            kept.append(item)
    return kept


def keep(user, uploads: dict[str, list], token=None, *, drop=()) -> tuple[str | None, dict[str, list[str]]]:
    """Keep ``uploads`` ({field: [UploadedFile]}) for ``user``, added to the files already under
    ``token`` minus the ``drop`` keys ("field:index"); returns ``(token, problems)`` where problems
    maps a field to the messages of files that could not be kept (too large, unsupported…).
    The token is None when nothing is kept."""
    sweep()
    folder = _token_dir(user, token)
    previous = listed(user, token) if folder is not None else []
    if folder is None or not folder.is_dir():
        token = uuid.uuid4().hex
        folder = _user_dir(user) / token
    dropped = set(drop)
    rows = [{"field": k.field, "index": k.index, "name": k.name, "size": k.size, "file": k.path.name}
            for k in previous if k.key not in dropped]
    for k in previous:
        if k.key in dropped:
            k.path.unlink(missing_ok=True)
    problems: dict[str, list[str]] = {}
    for field, files in uploads.items():
        for f in files:
            if f is None:
                continue
            count = sum(1 for r in rows if r["field"] == field)
            try:
                if count >= MAX_FILES_PER_FIELD:
                    raise InvalidInput(_too_many())
                name = attachments.clean_filename(getattr(f, "name", ""))
                size = getattr(f, "size", None)
                if size is not None and size > settings.ATTACHMENT_MAX_BYTES:
                    raise attachments._too_large()
                if not size:
                    continue
                attachments.detect_kind(f, name)
                index = max((r["index"] for r in rows if r["field"] == field), default=-1) + 1
                stored = f"{field}-{index}.bin"
                folder.mkdir(parents=True, exist_ok=True)
                size, _sha = attachments._write_original(f, folder / stored)
            except InvalidInput as exc:
                problems.setdefault(field, []).append(f"{getattr(f, 'name', '')}: {exc.message}")
                continue
            rows.append({"field": field, "index": index, "name": name, "size": size, "file": stored})
    if not rows:
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return None, problems
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    tmp.replace(folder / MANIFEST)
    os.utime(folder)
    _trim_user(user, token)
    return token, problems


def _too_many() -> str:
    from django.utils.translation import gettext as _

    return _("暂存的文件过多,每项最多%(n)d个") % {"n": MAX_FILES_PER_FIELD}


def take(user, token, *, drop=()) -> dict[str, list[File]]:
    """The kept files of ``token`` (minus ``drop``) opened for reading, per field. The caller closes
    them (``close_all``) and calls ``discard`` once they are saved."""
    dropped = set(drop)
    opened: dict[str, list[File]] = {}
    for k in listed(user, token):
        if k.key in dropped:
            continue
        opened.setdefault(k.field, []).append(File(open(k.path, "rb"), name=k.name))
    return opened


def close_all(opened: dict[str, list[File]]) -> None:
    for files in opened.values():
        for f in files:
            f.close()


def discard(user, token) -> None:
    folder = _token_dir(user, token)
    if folder is not None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
