"""Where photos live: content-addressed files under one directory.

A photo arrives from the web chat upload or a Telegram getFile download; it is checked
to be a real image (Pillow decodes it) and below the size limit before anything refers
to it, so a broken upload gets a clear answer instead of a broken case. The reference
is the SHA-256 of the bytes plus the format, so the same photo sent twice is stored once.

Usage::

    store = FileStore(Path("var/files"))
    ref = store.save_image(data)          # "3f2a….jpeg", or raises BadImage
    store.path(ref).read_bytes()
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
_REF = re.compile(r"^[0-9a-f]{64}\.(jpeg|png|webp|gif)$")


class BadImage(ValueError):
    """The upload is not an image we accept; ``reason`` is a catalogue key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save_image(self, data: bytes) -> str:
        if not data:
            raise BadImage("files.empty")
        if len(data) > MAX_IMAGE_BYTES:
            raise BadImage("files.too_big")
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind = FORMATS.get(image.format or "")
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise BadImage("files.not_an_image") from None
        if kind is None:
            raise BadImage("files.not_an_image")
        ref = f"{hashlib.sha256(data).hexdigest()}.{kind}"
        path = self.path(ref)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return ref

    def path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError(f"not a file reference: {ref!r}")
        return self.root / ref[:2] / ref
