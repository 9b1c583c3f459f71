"""Attachments: content-type detection, size limit, thumbnails, safe names, storage outside the web
root, access checks on every path (pages and API), archive-not-delete, and audit entries."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from yingji.core import attachments, services
from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.models import Area, Attachment, AuditEntry

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML_BYTES = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program"


def image_bytes(fmt="PNG", size=(800, 600), mode="RGB", exif_orientation=None) -> bytes:
    img = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    buf = io.BytesIO()
    kwargs = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def office_bytes(part: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        z.writestr(part, '<?xml version="1.0"?><doc/>')
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    return buf.getvalue()


class RawUpload(io.BytesIO):
    """An upload whose name is kept verbatim (Django's own classes already strip directories)."""

    def __init__(self, name, content):
        super().__init__(content)
        self.name = name
        self.size = len(content)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root) -> list[Path]:
    return sorted(p for p in Path(media_root).rglob("*") if p.is_file())


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def upload_url(obj) -> str:
    return f"/attachments/upload/core.area/{obj.pk}/"


def page_upload(client, obj, name, content, caption="", next_url=None):
    data = {"file": SimpleUploadedFile(name, content), "caption": caption}
    if next_url:
        data["next"] = next_url
    return client.post(upload_url(obj), data)


def bearer(user) -> dict:
    _token, key = services.create_token(None, user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def api_upload(client, user, obj, name, content, caption=""):
    return client.post("/api/v1/attachments", {
        "model": "core.area", "object_id": obj.pk, "caption": caption, "file": SimpleUploadedFile(name, content),
    }, **bearer(user))


def add(world, obj, name="现场.png", content=None, user=None):
    content = image_bytes() if content is None else content
    return attachments.add_attachment(user or world.admin, obj, RawUpload(name, content))


def audit_actions(obj) -> list[str]:
    ct = ContentType.objects.get_for_model(type(obj))
    return list(AuditEntry.objects.filter(content_type=ct, object_id=obj.pk).values_list("action", flat=True))


# ---------------------------------------------------------------- accepted files

def test_png_upload_through_page_stores_file_thumbnail_and_audit(world, client, media):
    client.force_login(world.admin)
    content = image_bytes("PNG", (800, 600))
    area_url = f"/areas/{world.area_a.pk}/"
    r = page_upload(client, world.area_a, "现场照片.png", content, caption="东侧围墙", next_url=area_url)
    assert r.status_code == 302 and r["Location"] == area_url
    assert any("已上传附件" in m and "现场照片.png" in m for m in flashes(r))

    att = Attachment.objects.get()
    assert (att.content_type.model, att.object_id) == ("area", world.area_a.pk)
    assert att.mime_type == "image/png" and att.is_image
    assert (att.width, att.height) == (800, 600)
    assert att.size == len(content) and att.sha256 == hashlib.sha256(content).hexdigest()
    assert att.original_name == "现场照片.png" and att.caption == "东侧围墙"
    assert att.uploaded_by == world.admin

    # Stored by a random name under MEDIA_ROOT/attachments/YYYY/MM/, never under static files.
    parts = att.storage_name.split("/")
    assert parts[0] == "attachments" and len(parts[1]) == 4 and len(parts[2]) == 2
    assert parts[3].endswith(".png") and len(parts[3]) == 32 + 4 and "现场" not in att.storage_name
    original = Path(media) / att.storage_name
    assert original.read_bytes() == content
    assert original.resolve().is_relative_to(Path(media).resolve())
    assert not original.resolve().is_relative_to(Path(django_settings.STATIC_ROOT).resolve())
    assert not original.resolve().is_relative_to(Path(attachments.__file__).parent / "static")

    thumb = Path(media) / att.thumbnail_name
    with Image.open(thumb) as t:
        assert max(t.size) == 320 and t.size == (320, 240)

    assert audit_actions(att) == ["attachment.add"]
    assert "attachment.add" in audit_actions(world.area_a)
    entry = AuditEntry.objects.filter(action="attachment.add").first()
    assert entry.actor == world.admin

    # The panel on the record page lists it with its thumbnail, and offers upload to an editor.
    page = client.get(area_url).content.decode()
    assert "现场照片.png" in page and f"/attachments/{att.pk}/thumb/" in page
    assert 'accept="image/*,.pdf,.docx,.xlsx"' in page and 'capture="environment"' in page
    assert 'enctype="multipart/form-data"' in page


def test_download_and_thumbnail_headers(world, client):
    att = add(world, world.area_a, "现场.png", image_bytes("PNG", (640, 480)))
    client.force_login(world.leader)
    r = client.get(f"/attachments/{att.pk}/")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"].startswith("inline")
    assert "filename*=utf-8''%E7%8E%B0%E5%9C%BA.png" in r["Content-Disposition"]
    assert b"".join(r.streaming_content) == (Path(django_settings.MEDIA_ROOT) / att.storage_name).read_bytes()

    r = client.get(f"/attachments/{att.pk}/thumb/")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(r.streaming_content))) as t:
        assert t.size == (320, 240)


def test_jpeg_exif_orientation_and_transparent_png(world):
    att = add(world, world.area_a, "竖拍.jpg", image_bytes("JPEG", (400, 200), exif_orientation=6))
    assert att.mime_type == "image/jpeg" and (att.width, att.height) == (200, 400)
    with Image.open(Path(django_settings.MEDIA_ROOT) / att.thumbnail_name) as t:
        assert t.size == (160, 320)  # upright, as the phone showed it

    att = add(world, world.area_a, "标注.png", image_bytes("PNG", (100, 50), mode="RGBA"))
    assert att.thumbnail_name.endswith(".png")  # keeps transparency
    with Image.open(Path(django_settings.MEDIA_ROOT) / att.thumbnail_name) as t:
        assert t.mode == "RGBA" and t.size == (100, 50)


def test_pdf_docx_xlsx_are_accepted_as_documents(world, client):
    client.force_login(world.admin)
    for name, content, mime, disposition in [
        ("检查记录.pdf", PDF_BYTES, "application/pdf", "attachment"),
        ("整改通知.docx", office_bytes("word/document.xml"),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
        ("隐患台账.xlsx", office_bytes("xl/workbook.xml"),
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "attachment"),
    ]:
        r = page_upload(client, world.area_a, name, content)
        assert r.status_code == 302, name
        att = Attachment.objects.get(original_name=name)
        assert att.mime_type == mime and not att.is_image
        assert att.thumbnail_name == "" and att.width is None
        assert att.storage_name.endswith("." + name.rsplit(".", 1)[1])
        r = client.get(f"/attachments/{att.pk}/")
        assert r.status_code == 200 and r["Content-Type"] == mime
        assert r["Content-Disposition"].startswith(disposition)
        assert client.get(f"/attachments/{att.pk}/thumb/").status_code == 404


def test_real_word_and_excel_files_are_recognised(world):
    import docx
    import xlsxwriter

    buf = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("隐患整改通知书")
    document.save(buf)
    att = add(world, world.area_a, "整改通知书.docx", buf.getvalue())
    assert att.mime_type == attachments.DOCX

    buf = io.BytesIO()
    workbook = xlsxwriter.Workbook(buf, {"in_memory": True})
    workbook.add_worksheet("台账").write(0, 0, "企业名称")
    workbook.close()
    att = add(world, world.area_a, "台账.xlsx", buf.getvalue())
    assert att.mime_type == attachments.XLSX
    with pytest.raises(InvalidInput, match="文件内容与扩展名不符"):
        add(world, world.area_a, "台账.docx", buf.getvalue())  # a workbook is not a Word document


def test_gif_webp_and_large_uploads_spooled_to_disk(world, client, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # force Django's TemporaryUploadedFile
    client.force_login(world.admin)
    for name, content, mime in [("动图.gif", image_bytes("GIF", (640, 320)), "image/gif"),
                                ("现场.webp", image_bytes("WEBP", (640, 320)), "image/webp"),
                                ("大图.jpg", image_bytes("JPEG", (1600, 1200)), "image/jpeg")]:
        r = page_upload(client, world.area_a, name, content)
        assert r.status_code == 302
        att = Attachment.objects.get(original_name=name)
        assert att.mime_type == mime and att.width == (640 if mime != "image/jpeg" else 1600)
        with Image.open(Path(django_settings.MEDIA_ROOT) / att.thumbnail_name) as t:
            assert max(t.size) == 320


def test_name_without_extension_gets_the_detected_one(world):
    att = add(world, world.area_a, "IMG_0001", image_bytes("JPEG", (50, 50)))
    assert att.original_name == "IMG_0001.jpg" and att.storage_name.endswith(".jpg")
    att = add(world, world.area_a, "扫描件.png", image_bytes("JPEG", (50, 50)))  # same family: name corrected
    assert att.original_name == "扫描件.jpg" and att.mime_type == "image/jpeg"


# ---------------------------------------------------------------- refused files

DISGUISED = [
    ("html", HTML_BYTES),
    ("zip", plain_zip()),
    ("exe", EXE_BYTES),
    ("pdf", PDF_BYTES),
]


@pytest.mark.parametrize("label,content", DISGUISED, ids=[d[0] for d in DISGUISED])
def test_disguised_file_named_jpg_is_refused_on_page(world, client, media, label, content):
    client.force_login(world.admin)
    r = page_upload(client, world.area_a, "photo.jpg", content)
    assert r.status_code == 302
    msgs = flashes(r)
    assert any("文件内容与扩展名不符" in m and "photo.jpg" in m and "图片" in m for m in msgs), msgs
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


@pytest.mark.parametrize("label,content", DISGUISED, ids=[d[0] for d in DISGUISED])
def test_disguised_file_named_jpg_is_refused_by_api(world, client, media, label, content):
    r = api_upload(client, world.admin, world.area_a, "photo.jpg", content)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "type_mismatch" and "文件内容与扩展名不符" in body["message"]
    assert "文件内容与扩展名不符" in body["detail"]["file"]
    assert not Attachment.objects.exists() and stored_files(media) == []


def test_unsupported_and_broken_files_are_refused(world, media):
    cases = [
        ("setup.exe", EXE_BYTES, "不支持的文件类型"),
        ("page.html", HTML_BYTES, "不支持的文件类型"),
        ("data.zip", plain_zip(), "不支持的文件类型"),
        ("notes.txt", "纯文本".encode(), "不支持的文件类型"),
        ("报告.docx", plain_zip(), "文件内容与扩展名不符"),
        ("broken.png", image_bytes("PNG")[:60], "图片已损坏"),
        ("empty.pdf", b"", "文件为空"),
    ]
    for name, content, message in cases:
        with pytest.raises(InvalidInput) as exc:
            add(world, world.area_a, name, content)
        assert message in exc.value.message, name
    assert not Attachment.objects.exists() and stored_files(media) == []


def test_oversize_upload_is_refused_with_limit_in_mb(world, client, settings, media):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = PDF_BYTES + b"%" * (1024 * 1024)
    client.force_login(world.admin)
    r = page_upload(client, world.area_a, "大文件.pdf", big)
    assert r.status_code == 302
    assert any("文件过大" in m and "1 MB" in m for m in flashes(r))

    r = api_upload(client, world.admin, world.area_a, "大文件.pdf", big)
    assert r.status_code == 422 and "文件过大:单个附件不能超过 1 MB" in r.json()["message"]

    # A size that lies (declared small) is caught while copying.
    upload = RawUpload("大文件.pdf", big)
    upload.size = 10
    with pytest.raises(InvalidInput, match="文件过大"):
        attachments.add_attachment(world.admin, world.area_a, upload)
    assert not Attachment.objects.exists() and stored_files(media) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\x.jpg", "photos/x.jpg", "a\x00.jpg", "..", " "])
def test_path_like_names_are_refused(world, media, name):
    with pytest.raises(InvalidInput) as exc:
        add(world, world.area_a, name, image_bytes("JPEG", (20, 20)))
    assert "文件名不合法" in exc.value.message or "文件名不能为空" in exc.value.message
    assert stored_files(media) == []


def test_names_are_cleaned_for_display(world):
    att = add(world, world.area_a, "現場\u202egnp.jpg", image_bytes("JPEG", (20, 20)))
    assert att.original_name == "現場gnp.jpg"  # bidi override removed
    att = add(world, world.area_a, "长" * 300 + ".jpg", image_bytes("JPEG", (20, 20)))
    assert len(att.original_name) == 200 and att.original_name.endswith(".jpg")


def test_path_traversal_over_http_never_leaves_media_root(world, client, media):
    # Django's multipart parser already drops directory parts; whatever arrives, the stored
    # name is random and the display name has no path.
    client.force_login(world.admin)
    r = page_upload(client, world.area_a, "..\\..\\x.jpg", image_bytes("JPEG", (20, 20)))
    assert r.status_code == 302
    att = Attachment.objects.get()
    assert "/" not in att.original_name and "\\" not in att.original_name and ".." not in att.original_name
    assert all(p.resolve().is_relative_to(Path(media).resolve() / "attachments") for p in stored_files(media))


def test_decompression_bomb_is_refused(world, monkeypatch, media):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    for size in [(150, 100), (300, 300)]:  # over the limit (warning range) and over twice the limit
        with pytest.raises(InvalidInput, match="图片尺寸过大"):
            add(world, world.area_a, "巨图.png", image_bytes("PNG", size))
    assert stored_files(media) == []


def test_database_failure_removes_written_files(world, monkeypatch, media):
    def boom(*args, **kwargs):
        raise RuntimeError("db down")

    monkeypatch.setattr(attachments.audit, "record", boom)
    with pytest.raises(RuntimeError):
        add(world, world.area_a, "现场.png", image_bytes("PNG", (50, 50)))
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_caption_too_long_and_archived_record(world, media):
    with pytest.raises(InvalidInput, match="说明不能超过200个字"):
        attachments.add_attachment(world.admin, world.area_a, RawUpload("a.pdf", PDF_BYTES), caption="字" * 201)
    grid = world.grids["b2g2"]
    services.archive_area(world.admin, grid)
    with pytest.raises(InvalidInput, match="该记录已归档"):
        add(world, Area.objects.get(pk=grid.pk), "a.pdf", PDF_BYTES)
    assert stored_files(media) == []


# ---------------------------------------------------------------- access

def test_other_town_gets_404_on_every_page(world, client):
    att = add(world, world.villages["a1"])
    client.force_login(world.town_b)
    assert client.get(f"/attachments/{att.pk}/").status_code == 404
    assert client.get(f"/attachments/{att.pk}/thumb/").status_code == 404
    r = page_upload(client, world.villages["a1"], "x.png", image_bytes())
    assert r.status_code == 404
    r = client.post(f"/attachments/{att.pk}/archive/")
    assert r.status_code == 404
    assert "记录不存在或无权访问" in r.content.decode()
    att.refresh_from_db()
    assert att.archived_at is None and Attachment.objects.count() == 1
    # Records that cannot carry attachments, or unknown ones, look absent too.
    client.force_login(world.admin)
    for model in ("core.nothing", "core.auditentry", "core.attachment", "auth.group"):
        assert client.post(f"/attachments/upload/{model}/{world.area_a.pk}/",
                           {"file": SimpleUploadedFile("a.pdf", PDF_BYTES)}).status_code == 404


def test_other_town_gets_404_on_every_api_call(world, client):
    att = add(world, world.villages["a1"])
    h = bearer(world.town_b)
    r = client.get("/api/v1/attachments", {"model": "core.area", "object_id": world.villages["a1"].pk}, **h)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    for path in (f"/api/v1/attachments/{att.pk}", f"/api/v1/attachments/{att.pk}/content",
                 f"/api/v1/attachments/{att.pk}/thumbnail"):
        assert client.get(path, **h).status_code == 404, path
    assert client.post(f"/api/v1/attachments/{att.pk}/archive", **h).status_code == 404
    r = api_upload(client, world.town_b, world.villages["a1"], "x.png", image_bytes())
    assert r.status_code == 404 and r.json()["message"] == "记录不存在或无权访问"
    r = client.post("/api/v1/attachments", {"model": "core.job", "object_id": 1,
                                            "file": SimpleUploadedFile("a.pdf", PDF_BYTES)}, **bearer(world.admin))
    assert r.status_code == 404
    assert Attachment.objects.count() == 1


def test_anonymous_gets_nothing(world, client):
    att = add(world, world.area_a)
    r = client.get(f"/attachments/{att.pk}/")
    assert r.status_code == 302 and "/login/" in r["Location"]
    assert client.get(f"/api/v1/attachments/{att.pk}/content").status_code == 401


def test_grid_worker_views_but_cannot_upload_or_archive(world, client, media):
    village = world.villages["a1"]
    att = add(world, village, "村口.png")
    client.force_login(world.grid)
    page = client.get(f"/areas/{village.pk}/").content.decode()
    assert "村口.png" in page and 'data-testid="attachment-upload"' not in page
    assert f'/attachments/{att.pk}/archive/' not in page
    assert client.get(f"/attachments/{att.pk}/").status_code == 200
    assert client.get(f"/attachments/{att.pk}/thumb/").status_code == 200

    r = page_upload(client, village, "新照片.png", image_bytes())
    assert r.status_code == 302
    assert "您只能查看该记录,无权上传或归档附件" in flashes(r)
    r = client.post(f"/attachments/{att.pk}/archive/")
    assert r.status_code == 302
    assert "您只能查看该记录,无权上传或归档附件" in flashes(r)
    assert Attachment.objects.count() == 1 and Attachment.objects.get().archived_at is None
    assert len(stored_files(media)) == 2  # the original and its thumbnail, nothing new

    h = bearer(world.grid)
    r = client.get("/api/v1/attachments", {"model": "core.area", "object_id": village.pk}, **h)
    assert r.status_code == 200 and [i["name"] for i in r.json()["items"]] == ["村口.png"]
    r = api_upload(client, world.grid, village, "新照片.png", image_bytes())
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.post(f"/api/v1/attachments/{att.pk}/archive", **h)
    assert r.status_code == 403
    with pytest.raises(Forbidden):
        add(world, village, user=world.grid)
    with pytest.raises(NotFound):
        add(world, world.area_b, user=world.grid)


# ---------------------------------------------------------------- API

def test_api_upload_list_metadata_content_and_archive(world, client, media):
    h = bearer(world.admin)
    png = image_bytes("PNG", (400, 300))
    r = api_upload(client, world.admin, world.area_a, "隐患点.png", png, caption="配电箱")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "隐患点.png" and body["model"] == "core.area" and body["object_id"] == world.area_a.pk
    assert body["mime_type"] == "image/png" and body["is_image"] and (body["width"], body["height"]) == (400, 300)
    assert body["sha256"] == hashlib.sha256(png).hexdigest() and body["caption"] == "配电箱"
    assert body["uploaded_by_id"] == world.admin.pk and body["archived"] is False
    att_id = body["id"]
    assert set(audit_actions(Attachment.objects.get(pk=att_id))) == {"attachment.add"}

    r = client.get(body["content_url"], **h)
    assert r.status_code == 200 and b"".join(r.streaming_content) == png
    assert r["X-Content-Type-Options"] == "nosniff"
    r = client.get(body["thumbnail_url"], **h)
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"

    api_upload(client, world.admin, world.area_a, "记录.pdf", PDF_BYTES)
    r = client.get("/api/v1/attachments", {"model": "core.area", "object_id": world.area_a.pk}, **h)
    assert [i["name"] for i in r.json()["items"]] == ["记录.pdf", "隐患点.png"]
    assert r.json()["items"][0]["thumbnail_url"] is None
    r = client.get("/api/v1/attachments", {"model": "core.area", "object_id": world.area_b.pk}, **h)
    assert r.json()["items"] == []

    r = client.post(f"/api/v1/attachments/{att_id}/archive", **h)
    assert r.status_code == 200 and r.json()["archived"] is True
    r = client.get("/api/v1/attachments", {"model": "core.area", "object_id": world.area_a.pk}, **h)
    assert [i["name"] for i in r.json()["items"]] == ["记录.pdf"]
    assert (Path(media) / Attachment.objects.get(pk=att_id).storage_name).exists()
    r = client.post(f"/api/v1/attachments/{att_id}/archive", **h)
    assert r.status_code == 422 and r.json()["message"] == "该附件已归档"

    r = client.post("/api/v1/attachments", {"model": "core.area", "object_id": world.area_a.pk}, **h)
    assert r.status_code == 422  # no file


def test_archive_through_page_hides_but_keeps_file_and_audits(world, client, media):
    att = add(world, world.area_a, "旧照片.png")
    client.force_login(world.admin)
    area_url = f"/areas/{world.area_a.pk}/"
    r = client.post(f"/attachments/{att.pk}/archive/", {"next": area_url})
    assert r.status_code == 302 and r["Location"] == area_url
    assert "已归档附件:旧照片.png" in flashes(r)
    att.refresh_from_db()
    assert att.archived_at is not None and att.archived_by == world.admin
    assert (Path(media) / att.storage_name).exists() and (Path(media) / att.thumbnail_name).exists()
    assert list(attachments.attachments_for(world.admin, world.area_a)) == []
    page = client.get(area_url).content.decode()
    assert f'data-testid="attachment-{att.pk}"' not in page and f"/attachments/{att.pk}/" not in page
    assert audit_actions(att) == ["attachment.archive", "attachment.add"]
    assert audit_actions(world.area_a).count("attachment.archive") == 1

    r = client.post(f"/attachments/{att.pk}/archive/", {"next": "https://evil.example/"})
    assert r["Location"] == area_url  # an off-site next is ignored: back to the record
    assert "该附件已归档" in flashes(r)


def test_page_upload_without_file_and_get_not_allowed(world, client):
    client.force_login(world.admin)
    r = client.post(upload_url(world.area_a), {"caption": "x"})
    assert r.status_code == 302 and r["Location"] == f"/areas/{world.area_a.pk}/"
    assert "请选择要上传的文件" in flashes(r)
    assert client.get(upload_url(world.area_a)).status_code == 405


# ---------------------------------------------------------------- served from our origin, never as a page

SVG_BYTES = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>'


def test_svg_and_html_uploads_are_refused(world, media):
    for name, content in [("图.svg", SVG_BYTES), ("page.htm", HTML_BYTES), ("图.svg", b"<?xml version='1.0'?>" + SVG_BYTES)]:
        with pytest.raises(InvalidInput) as exc:
            add(world, world.area_a, name, content)
        assert "不支持的文件类型" in exc.value.message, name
    assert not Attachment.objects.exists() and stored_files(media) == []


def _legacy(world, mime: str, content: bytes, name: str) -> Attachment:
    """A row holding a type the upload refuses (an older release, a restored backup)."""
    att = add(world, world.area_a, "旧.pdf", PDF_BYTES)
    (Path(django_settings.MEDIA_ROOT) / att.storage_name).write_bytes(content)
    Attachment.objects.filter(pk=att.pk).update(mime_type=mime, original_name=name)
    att.refresh_from_db()
    return att


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp", "pdf", "docx", "xlsx", "svg", "html"])
def test_only_raster_images_are_inline_every_file_is_sandboxed(world, client, api_client, kind):
    if kind in ("png", "jpeg", "gif", "webp"):
        att = add(world, world.area_a, f"图.{kind}", image_bytes(kind.upper(), (40, 30)))
    elif kind == "pdf":
        att = add(world, world.area_a, "报告.pdf", PDF_BYTES)
    elif kind == "docx":
        att = add(world, world.area_a, "通知.docx", office_bytes("word/document.xml"))
    elif kind == "xlsx":
        att = add(world, world.area_a, "台账.xlsx", office_bytes("xl/workbook.xml"))
    elif kind == "svg":
        att = _legacy(world, "image/svg+xml", SVG_BYTES, "图.svg")
    else:
        att = _legacy(world, "text/html", HTML_BYTES, "页.html")
    inline = kind in ("png", "jpeg", "gif", "webp")
    client.force_login(world.leader)
    api = api_client.as_user(world.leader)
    for r in (client.get(f"/attachments/{att.pk}/"), api.get(f"/api/v1/attachments/{att.pk}/content")):
        assert r.status_code == 200
        assert r["Content-Disposition"].startswith("inline" if inline else "attachment"), kind
        assert r["X-Content-Type-Options"] == "nosniff"
        assert r["Content-Security-Policy"] == "sandbox; default-src 'none'"
    if att.thumbnail_name:
        r = client.get(f"/attachments/{att.pk}/thumb/")
        assert r["Content-Disposition"].startswith("inline")
        assert r["Content-Security-Policy"] == "sandbox; default-src 'none'"
