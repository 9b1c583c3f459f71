"""Attachments: photos and documents on any scoped record.

A file is accepted only when its *content* is a supported type (detected with ``filetype`` plus
checks of its inner structure), it is within ``settings.ATTACHMENT_MAX_BYTES``, its name is a
plain file name, and — for images — Pillow really decodes it within the decompression-bomb
limit. It is stored outside the web root under
``MEDIA_ROOT/attachments/YYYY/MM/<uuid4 hex><ext>`` (the extension comes from the detected type,
never from the user's file name) together with a ≤320px thumbnail for images, and served only
by views that first look it up through ``Attachment.objects.visible_to(user)``.

An attachment is visible (editable) exactly when its parent record is visible (editable):
see ``Attachment.scope_q``. Attachments are archived, never deleted; the file is kept.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import unicodedata
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import filetype
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.http import FileResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, UnidentifiedImageError

from . import audit, uploads
from .audit import service
from .errors import Forbidden, InvalidInput, NotFound
from .models import Attachment
from .scoping import ScopedModel, scoped_models

THUMBNAIL_SIZE = 320
MAX_NAME_LENGTH = 200
MAX_CAPTION_LENGTH = 200
HEAD_BYTES = 8192
CHUNK_SIZE = 64 * 1024
STORAGE_DIR = "attachments"

# Scoped models that are plumbing rather than business records: nothing is attached to them.
NOT_ATTACHABLE = frozenset({"core.attachment", "core.auditentry", "core.job", "core.roleassignment"})

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"


@dataclass(frozen=True)
class FileKind:
    mime: str
    ext: str                 # stored extension, from the detected type
    family: str              # image / pdf / word / excel: what a file name may claim
    names: frozenset[str]    # file-name extensions that agree with this type
    pil_formats: frozenset[str] = frozenset()  # Pillow formats that agree (images only)

    @property
    def is_image(self) -> bool:
        return self.family == "image"


KINDS: dict[str, FileKind] = {k.mime: k for k in (
    FileKind(JPEG, ".jpg", "image", frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}), frozenset({"JPEG", "MPO"})),
    FileKind(PNG, ".png", "image", frozenset({".png", ".apng"}), frozenset({"PNG"})),
    FileKind(GIF, ".gif", "image", frozenset({".gif"}), frozenset({"GIF"})),
    FileKind(WEBP, ".webp", "image", frozenset({".webp"}), frozenset({"WEBP"})),
    FileKind(PDF, ".pdf", "pdf", frozenset({".pdf"})),
    FileKind(DOCX, ".docx", "word", frozenset({".docx"})),
    FileKind(XLSX, ".xlsx", "excel", frozenset({".xlsx"})),
    FileKind(DOC, ".doc", "word", frozenset({".doc"})),
    FileKind(XLS, ".xls", "excel", frozenset({".xls"})),
)}

# Extensions a user's file name may carry, and the family each claims.
CLAIMED_FAMILY: dict[str, str] = {ext: k.family for k in KINDS.values() for ext in k.names}

FAMILY_LABELS = {"image": gettext_lazy("图片"), "pdf": gettext_lazy("PDF 文档"), "word": gettext_lazy("Word 文档"),
                 "excel": gettext_lazy("Excel 表格")}

# Types shown inline in the browser: safe raster images only. Everything else (PDF included:
# a PDF viewer runs scripts and links from our origin; and any SVG/HTML a legacy row may hold) is
# served as a download. Every file response is also sandboxed (see ``file_response``).
INLINE_TYPES = frozenset({JPEG, PNG, GIF, WEBP})
FILE_CSP = "sandbox; default-src 'none'"

OLE_MAGIC = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"


def _unsupported() -> InvalidInput:
    msg = _("不支持的文件类型:仅支持 JPG、PNG、GIF、WebP 图片和 PDF、Word、Excel 文档")
    return InvalidInput(msg, detail={"file": msg}, code="unsupported_type")


def _mismatch(name: str, family: str) -> InvalidInput:
    msg = _("文件内容与扩展名不符:“%(name)s”的实际内容不是%(kind)s,请检查后重新上传") % {
        "name": name, "kind": FAMILY_LABELS[family]}
    return InvalidInput(msg, detail={"file": msg}, code="type_mismatch")


def _bad_file(msg: str) -> InvalidInput:
    return InvalidInput(msg, detail={"file": msg})


def max_size_label(limit: int | None = None) -> str:
    """The size limit in MB for messages and forms ("20", "0.5")."""
    limit = settings.ATTACHMENT_MAX_BYTES if limit is None else limit
    mb = limit / (1024 * 1024)
    if mb >= 1 and mb == int(mb):
        return str(int(mb))
    text = f"{mb:.2f}".rstrip("0").rstrip(".")
    return text if text != "0" else f"{mb:.2g}"


# ---------------------------------------------------------------- attachable records

def model_label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def attachable_models() -> list[type[ScopedModel]]:
    return [m for m in scoped_models() if model_label(m) not in NOT_ATTACHABLE]


def resolve_model(label: str) -> type[ScopedModel]:
    """``"core.area"`` → ``Area``; NotFound for anything that is not an attachable record type."""
    label = (label or "").strip().lower()
    for model in attachable_models():
        if model_label(model) == label:
            return model
    raise NotFound()


def _check_attachable(obj) -> None:
    if not isinstance(obj, ScopedModel) or model_label(type(obj)) not in {model_label(m) for m in attachable_models()}:
        raise NotFound()


def _require_parent_editable(actor, obj) -> None:
    """NotFound when the record is outside the actor's view, Forbidden when view-only."""
    model = type(obj)
    if model.objects.editable_by(actor).filter(pk=obj.pk).exists():
        return
    if model.objects.visible_to(actor).filter(pk=obj.pk).exists():
        raise Forbidden(_("您只能查看该记录,无权上传或归档附件"))
    raise NotFound()


def _actor_required(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))


# ---------------------------------------------------------------- names

def clean_filename(name) -> str:
    """The user's file name made safe for display, or InvalidInput for a path-like name.

    Names with directory parts (``/``, ``\\``), ``..`` segments or NUL are refused outright rather
    than silently trimmed; control and bidi-override characters are removed; the length is
    limited keeping the extension.
    """
    raw = name if isinstance(name, str) else ""
    bad_path = _("文件名不合法:不能包含路径(/ 或 \\)或“..”,请重命名后再上传")
    if "\x00" in raw or "/" in raw or "\\" in raw or raw.strip() in {".", ".."}:
        raise _bad_file(bad_path)
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", raw)
                      if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
    cleaned = " ".join(cleaned.split())  # collapse whitespace, trim
    if cleaned == "..":
        raise _bad_file(bad_path)
    if not cleaned.strip("."):
        raise _bad_file(_("文件名不能为空"))
    if len(cleaned) > MAX_NAME_LENGTH:
        stem, ext = os.path.splitext(cleaned)
        ext = ext[:16]
        cleaned = stem[: MAX_NAME_LENGTH - len(ext)] + ext
    return cleaned


def _name_ext(name: str) -> str:
    """The extension of a display name, lower-case, or "" when it has none that looks like one."""
    ext = os.path.splitext(name)[1].lower()
    if 2 <= len(ext) <= 6 and ext[1:].isalnum():
        return ext
    return ""


def display_name_for(name: str, kind: FileKind) -> str:
    """Check the name's claimed type against the content; give the name shown to users.

    A name claiming another supported type (``photo.jpg`` holding a PDF) is refused; a name with
    no or an unknown extension gets the detected one appended; a sibling extension of the same
    family (``.png`` holding a JPEG) is corrected.
    """
    ext = _name_ext(name)
    if ext in kind.names:
        return name
    claimed = CLAIMED_FAMILY.get(ext)
    if claimed is not None and claimed != kind.family:
        raise _mismatch(name, claimed)
    if claimed is not None:  # same family, different format
        name = name[: -len(ext)]
    name = name + kind.ext
    if len(name) > MAX_NAME_LENGTH:
        name = name[: MAX_NAME_LENGTH - len(kind.ext) - 1] + "…" + kind.ext
    return name


def clean_caption(caption) -> str:
    text = "".join(ch for ch in str(caption or "") if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    text = " ".join(text.split())
    if len(text) > MAX_CAPTION_LENGTH:
        msg = _("说明不能超过%(n)d个字") % {"n": MAX_CAPTION_LENGTH}
        raise InvalidInput(msg, detail={"caption": msg})
    return text


# ---------------------------------------------------------------- content checks

def _read_head(f) -> bytes:
    f.seek(0)
    head = f.read(HEAD_BYTES)
    f.seek(0)
    return bytes(head or b"")


def _office_zip_kind(f) -> FileKind | None:
    """DOCX/XLSX are ZIP packages: decide by the package's own parts, not by the outer ZIP."""
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None
    finally:
        f.seek(0)
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return KINDS[DOCX]
    if "xl/workbook.xml" in names:
        return KINDS[XLSX]
    return None


def detect_kind(f, name: str) -> FileKind:
    """The file's type from its content; InvalidInput when unsupported or not what the name says."""
    head = _read_head(f)
    guess = filetype.guess(head) if head else None
    mime = guess.mime if guess is not None else None
    kind: FileKind | None = None
    if mime in ("application/zip", DOCX, XLSX):
        uploads.check_archive(f)  # member count, inflated size, ratio: before the directory is parsed
        kind = _office_zip_kind(f)
    elif mime == "image/apng":
        kind = KINDS[PNG]
    elif mime in KINDS:
        kind = KINDS[mime]
    elif head.startswith(OLE_MAGIC):
        # Legacy Office: filetype only recognises some writers; an OLE container is taken as
        # the legacy format its name says (never as anything shown inline).
        claimed = _name_ext(name)
        if claimed in (".doc", ".xls"):
            kind = KINDS[DOC if claimed == ".doc" else XLS]
    if kind is None:
        claimed = CLAIMED_FAMILY.get(_name_ext(name))
        if claimed is not None:
            raise _mismatch(name, claimed)
        raise _unsupported()
    return kind


@dataclass
class ImageInfo:
    width: int
    height: int
    thumbnail: bytes
    thumbnail_ext: str


# EXIF orientation → transpose that shows the picture upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def inspect_image(f, kind: FileKind) -> ImageInfo:
    """Decode the image for real (verify, then load), refuse decompression bombs, make a thumbnail."""
    too_large = _bad_file(_("图片尺寸过大(超过%(n)d万像素),请压缩后再上传") % {
        "n": (Image.MAX_IMAGE_PIXELS or 0) // 10000})
    broken = _("图片已损坏或不是有效的%(fmt)s图片") % {"fmt": kind.ext[1:].upper()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            f.seek(0)
            with Image.open(f) as img:
                if img.format not in kind.pil_formats:
                    raise _bad_file(broken)
                width, height = img.size
                if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                    raise too_large
                img.verify()
            f.seek(0)
            with Image.open(f) as img:
                orientation = _orientation(img)
                if img.format == "JPEG":
                    img.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))
                img.load()
                thumbnail, ext = _thumbnail(img, orientation)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError,
            EOFError, struct.error, MemoryError):
        raise _bad_file(broken) from None
    finally:
        f.seek(0)
    if orientation in (5, 6, 7, 8):  # stored sideways: record the size as shown
        width, height = height, width
    return ImageInfo(width=width, height=height, thumbnail=thumbnail, thumbnail_ext=ext)


def _orientation(img) -> int:
    try:
        return int(img.getexif().get(0x0112, 0) or 0)
    except Exception:  # a broken EXIF block does not make a broken picture
        return 0


def _thumbnail(img, orientation: int) -> tuple[bytes, str]:
    """A ≤320px copy, upright; PNG when it has transparency, JPEG otherwise."""
    thumb = img.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if orientation in _ORIENTATION:
        thumb = thumb.transpose(_ORIENTATION[orientation])
    has_alpha = thumb.mode in ("RGBA", "LA", "PA") or (thumb.mode == "P" and "transparency" in thumb.info)
    out = io.BytesIO()
    if has_alpha:
        thumb.convert("RGBA").save(out, "PNG", optimize=True)
        return out.getvalue(), ".png"
    thumb.convert("RGB").save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue(), ".jpg"


# ---------------------------------------------------------------- storage

def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def storage_path(storage_name: str) -> Path:
    """Absolute path of a stored file; refuses anything outside ``MEDIA_ROOT/attachments``."""
    base = (media_root() / STORAGE_DIR).resolve()
    path = (media_root() / storage_name).resolve()
    if not storage_name or not path.is_relative_to(base):
        raise NotFound()
    return path


def _new_storage_name(ext: str) -> str:
    now = timezone.localtime()
    return f"{STORAGE_DIR}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}{ext}"


def _open_new(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o640)
    return os.fdopen(fd, "wb")


def _remove(*paths: Path | None) -> None:
    for path in paths:
        if path is None:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _chunks(f):
    f.seek(0)
    if hasattr(f, "chunks"):
        yield from f.chunks(CHUNK_SIZE)
        return
    while True:
        block = f.read(CHUNK_SIZE)
        if not block:
            return
        yield block


def _too_large() -> InvalidInput:
    return _bad_file(_("文件过大:单个附件不能超过 %(mb)s MB") % {"mb": max_size_label()})


def _write_original(f, path: Path) -> tuple[int, str]:
    """Copy the upload to ``path``, counting bytes and hashing as it goes."""
    limit = settings.ATTACHMENT_MAX_BYTES
    digest = hashlib.sha256()
    size = 0
    try:
        with _open_new(path) as out:
            for block in _chunks(f):
                size += len(block)
                if size > limit:
                    raise _too_large()
                digest.update(block)
                out.write(block)
    except BaseException:
        _remove(path)
        raise
    return size, digest.hexdigest()


# ---------------------------------------------------------------- services

def add_attachment(actor, obj, uploaded_file, caption: str = "") -> Attachment:
    """Attach ``uploaded_file`` to the record ``obj``; the actor must be allowed to edit ``obj``.

    The file is checked and written before the database transaction (so the transaction stays
    short); the row and its audit entries are then written by ``_save_attachment`` in one
    transaction. If that fails, the written files are removed again, so no orphan is left.
    """
    _actor_required(actor)
    if obj is None or getattr(obj, "pk", None) is None:
        raise NotFound()
    _check_attachable(obj)
    _require_parent_editable(actor, obj)
    if getattr(obj, "archived_at", None) is not None:
        raise InvalidInput(_("该记录已归档,不能再添加附件"))
    if uploaded_file is None:
        raise _bad_file(_("请选择要上传的文件"))
    name = clean_filename(getattr(uploaded_file, "name", ""))
    caption = clean_caption(caption)
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > settings.ATTACHMENT_MAX_BYTES:
        raise _too_large()
    if declared == 0 or not _read_head(uploaded_file):
        raise _bad_file(_("文件为空,请重新选择"))
    kind = detect_kind(uploaded_file, name)
    name = display_name_for(name, kind)
    image = inspect_image(uploaded_file, kind) if kind.is_image else None

    storage_name = _new_storage_name(kind.ext)
    original = storage_path(storage_name)
    thumb_path = None
    thumbnail_name = ""
    size, sha256 = _write_original(uploaded_file, original)
    try:
        if image is not None:
            thumbnail_name = storage_name[: -len(kind.ext)] + ".thumb" + image.thumbnail_ext
            thumb_path = storage_path(thumbnail_name)
            with _open_new(thumb_path) as out:
                out.write(image.thumbnail)
        return _save_attachment(
            actor, obj, original_name=name, storage_name=storage_name, mime_type=kind.mime, size=size,
            sha256=sha256, width=image.width if image else None, height=image.height if image else None,
            thumbnail_name=thumbnail_name, caption=caption,
        )
    except BaseException:
        _remove(original, thumb_path)
        raise


add_attachment.service_name = "core.add_attachment"


@service("core.add_attachment")
def _save_attachment(actor, obj, **fields) -> Attachment:
    model = type(obj)
    parent = model.objects.select_for_update().filter(pk=obj.pk).first()
    if parent is None:
        raise NotFound()
    _require_parent_editable(actor, parent)
    if getattr(parent, "archived_at", None) is not None:
        raise InvalidInput(_("该记录已归档,不能再添加附件"))
    attachment = Attachment.objects.create(
        content_type=ContentType.objects.get_for_model(model), object_id=parent.pk, uploaded_by=actor, **fields)
    audit.record("attachment.add", attachment, audit.diff({}, audit.snapshot(
        attachment, ["content_type", "object_id", "original_name", "mime_type", "size", "sha256", "caption"])),
        actor=actor)
    audit.record("attachment.add", parent, {"attachment": [None, f"{attachment.original_name} (#{attachment.pk})"]},
                 actor=actor)
    return attachment


def _load_for_archive(actor, pk) -> Attachment:
    attachment = Attachment.objects.select_for_update().filter(pk=pk).first()
    if attachment is None or not Attachment.objects.visible_to(actor).filter(pk=attachment.pk).exists():
        raise NotFound()
    if not Attachment.objects.editable_by(actor).filter(pk=attachment.pk).exists():
        raise Forbidden(_("您只能查看该记录,无权上传或归档附件"))
    return attachment


@service("core.archive_attachment")
def archive_attachment(actor, attachment: Attachment) -> Attachment:
    """Hide an attachment from its record's list. The row and the file are kept."""
    _actor_required(actor)
    attachment = _load_for_archive(actor, attachment.pk)
    if attachment.archived_at is not None:
        raise InvalidInput(_("该附件已归档"))
    now = timezone.now()
    if not Attachment.objects.filter(pk=attachment.pk, archived_at__isnull=True).update(archived_at=now,
                                                                                       archived_by=actor):
        from .errors import Conflict

        raise Conflict(_("该附件已被他人归档,请刷新后重试"), code="stale")
    attachment.archived_at, attachment.archived_by = now, actor
    audit.record("attachment.archive", attachment, {"archived_at": [None, attachment.archived_at]}, actor=actor)
    parent = parent_of(attachment)
    if parent is not None:
        audit.record("attachment.archive", parent,
                     {"attachment": [f"{attachment.original_name} (#{attachment.pk})", None]}, actor=actor)
    return attachment


# ---------------------------------------------------------------- reads

def parent_of(attachment: Attachment):
    model = attachment.content_type.model_class()
    if model is None:
        return None
    return model._default_manager.filter(pk=attachment.object_id).first()


def attachments_for(user, obj):
    """The visible, non-archived attachments of the record ``obj``, newest first."""
    if obj is None or getattr(obj, "pk", None) is None or not isinstance(obj, ScopedModel):
        return Attachment.objects.none()
    ct = ContentType.objects.get_for_model(type(obj))
    return (Attachment.objects.visible_to(user)
            .filter(content_type=ct, object_id=obj.pk, archived_at__isnull=True)
            .select_related("uploaded_by").order_by("-id"))


def can_attach(user, obj) -> bool:
    if obj is None or not isinstance(obj, ScopedModel) or getattr(obj, "archived_at", None) is not None:
        return False
    if model_label(type(obj)) in NOT_ATTACHABLE:
        return False
    return type(obj).objects.editable_by(user).filter(pk=obj.pk).exists()


def file_response(attachment: Attachment, thumbnail: bool = False) -> FileResponse:
    """Stream an attachment (already access-checked by the caller) with safe headers."""
    if thumbnail:
        if not attachment.thumbnail_name:
            raise NotFound()
        path = storage_path(attachment.thumbnail_name)
        mime = PNG if attachment.thumbnail_name.endswith(".png") else JPEG
        inline = True
        filename = os.path.splitext(attachment.original_name)[0] + "_缩略图" + path.suffix
    else:
        path = storage_path(attachment.storage_name)
        mime = attachment.mime_type
        inline = mime in INLINE_TYPES
        filename = attachment.original_name
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise NotFound(_("附件文件不存在,请联系管理员")) from None
    response = FileResponse(handle, content_type=mime)
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = FILE_CSP
    return response
