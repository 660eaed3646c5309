"""The file store takes photos and documents by what their bytes are, not their names."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from bot.storage.files import BadUpload, FileStore, clean_name
from tests.factories import png_bytes


def _ooxml(main_part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr(main_part, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"%PDF-1.7\n...", "通知.pdf", "pdf"),
        (_ooxml("word/document.xml"), "活动安排.docx", "docx"),
        (_ooxml("xl/workbook.xml"), "名单.xlsx", "xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧通知.doc", "doc"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "表格.xls", "xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "WPS文档.wps", "doc"),
    ],
)
def test_documents_are_stored_by_their_content_with_a_proven_extension(
    tmp_path: Path, data: bytes, name: str, kind: str
) -> None:
    stored = FileStore(tmp_path).save_document(data, name)
    assert stored.ref.endswith(f".{kind}")
    assert stored.name.endswith(f".{kind}")
    assert FileStore(tmp_path).path(stored.ref).read_bytes() == data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "files.empty"),
        (b"MZ\x90\x00 an executable named .pdf", "files.not_a_document"),
        (b"PK\x03\x04 a broken zip", "files.not_a_document"),
        (_ooxml("payload/evil.bin"), "files.not_a_document"),
        (b"%PDF-" + b"\0" * (20 * 1024 * 1024), "files.document_too_big"),
    ],
)
def test_anything_else_is_refused_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(BadUpload) as refused:
        FileStore(tmp_path).save_document(data, "通知.pdf")
    assert refused.value.reason == reason
    assert not list(tmp_path.rglob("*.*"))


def test_an_image_sent_as_a_file_is_kept_as_a_photo(tmp_path: Path) -> None:
    upload = FileStore(tmp_path).save_upload(png_bytes(), "IMG_0001.PNG")
    assert upload.photo is not None and upload.photo.endswith(".png")
    assert upload.document is None


@pytest.mark.parametrize(
    ("name", "kind", "cleaned"),
    [
        ("../../etc/关于2026.12.07活动的通知.pdf", "pdf", "关于2026.12.07活动的通知.pdf"),
        ("C:\\Users\\王\\桌面\\通知.DOCX", "docx", "通知.docx"),
        ("report.exe", "pdf", "report.exe.pdf"),
        ("", "pdf", "附件.pdf"),
        ("通知\x00\n.pdf", "pdf", "通知.pdf"),
        ("长" * 300 + ".pdf", "pdf", "长" * 116 + ".pdf"),
    ],
)
def test_names_lose_paths_and_control_characters_and_end_in_the_proven_kind(
    name: str, kind: str, cleaned: str
) -> None:
    assert clean_name(name, kind) == cleaned
