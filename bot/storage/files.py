"""Where photos and documents live: content-addressed files under one directory.

A photo arrives from the web chat upload or a Telegram getFile download; it is checked
to be a real image (Pillow decodes it) and below the size limit before anything refers
to it, so a broken upload gets a clear answer instead of a broken case. The reference
is the SHA-256 of the bytes plus the format, so the same photo sent twice is stored once.

Documents (a notice's PDF or Word file) are checked the same way by what their bytes
are, not by the name they came with: a PDF header, an Office Open XML package holding
its main part, or an OLE2 compound file (.doc / .xls). Anything else is refused, so a
resident is never sent an executable or a renamed archive in a legal-education notice.
The name the sender gave is kept beside the reference (residents see it), cleaned of
path parts and given the extension the content proved.

Usage::

    store = FileStore(Path("var/files"))
    ref = store.save_image(data)          # "3f2a….jpeg", or raises BadUpload
    doc = store.save_document(data, "通知.pdf")   # StoredDocument(ref="9c1e….pdf", name="通知.pdf")
    upload = store.save_upload(data, "scan.png")  # a photo or a document, by content
    store.path(ref).read_bytes()
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Telegram lets a bot download files up to 20 MB; the web chat takes the same.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
IMAGE_KINDS = frozenset(FORMATS.values())
DOCUMENT_KINDS = ("pdf", "docx", "xlsx", "pptx", "doc", "xls", "ppt")
_REF = re.compile(rf"^[0-9a-f]{{64}}\.({'|'.join((*sorted(IMAGE_KINDS), *DOCUMENT_KINDS))})$")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The part an Office Open XML package of each kind must hold.
_OOXML_MAIN = {
    "docx": "word/document.xml",
    "xlsx": "xl/workbook.xml",
    "pptx": "ppt/presentation.xml",
}
# WPS Office's own formats are OLE2 files too, read by the same programs.
_OLE2_KINDS = {"doc": "doc", "xls": "xls", "ppt": "ppt", "wps": "doc", "et": "xls", "dps": "ppt"}
MAX_NAME = 120


class BadUpload(ValueError):
    """The upload is not a file we accept; ``reason`` is a catalogue key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredDocument:
    ref: str
    name: str


@dataclass(frozen=True, slots=True)
class Upload:
    """What a file someone sent turned out to be: a photo reference, or a document."""

    photo: str | None = None
    document: StoredDocument | None = None


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save_image(self, data: bytes) -> str:
        if not data:
            raise BadUpload("files.empty")
        if len(data) > MAX_IMAGE_BYTES:
            raise BadUpload("files.too_big")
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind = FORMATS.get(image.format or "")
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise BadUpload("files.not_an_image") from None
        if kind is None:
            raise BadUpload("files.not_an_image")
        return self._write(data, kind)

    def save_document(self, data: bytes, name: str) -> StoredDocument:
        if not data:
            raise BadUpload("files.empty")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise BadUpload("files.document_too_big")
        kind = document_kind(data, name)
        if kind is None:
            raise BadUpload("files.not_a_document")
        return StoredDocument(self._write(data, kind), clean_name(name, kind))

    def save_upload(self, data: bytes, name: str) -> Upload:
        """A file sent "as a file": an image is kept as a photo, anything else must be a
        document we accept."""
        if looks_like_image(data):
            return Upload(photo=self.save_image(data))
        return Upload(document=self.save_document(data, name))

    def path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError(f"not a file reference: {ref!r}")
        return self.root / ref[:2] / ref

    def _write(self, data: bytes, kind: str) -> str:
        ref = f"{hashlib.sha256(data).hexdigest()}.{kind}"
        path = self.path(ref)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return ref


def looks_like_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def document_kind(data: bytes, name: str) -> str | None:
    """The document's real kind from its bytes; the name only tells .doc from .xls
    inside an OLE2 file, whose directory this does not parse."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                names = set(package.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        return next((kind for kind, part in _OOXML_MAIN.items() if part in names), None)
    if data.startswith(_OLE2):
        return _OLE2_KINDS.get(_suffix(name), "doc")
    return None


def clean_name(name: str, kind: str) -> str:
    """The sender's file name without any directory part or control characters, cut
    to a length every channel shows, ending in the extension the content proved."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"/\\|?*').strip(" .")
    stem = base[: -len(_suffix(base)) - 1] if _suffix(base) else base
    stem = stem[: MAX_NAME - len(kind) - 1] or "附件"
    return f"{stem}.{kind}"


def _suffix(name: str) -> str:
    """A document extension the name ends in ("" for "2026.11.25通知")."""
    head, dot, tail = name.rpartition(".")
    tail = tail.lower()
    return tail if dot and head and tail in (*DOCUMENT_KINDS, "wps", "et", "dps") else ""
