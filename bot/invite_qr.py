"""Invite QR codes as PNG cards: the code, and under it whom it is for.

The cards are printed and handed out door to door, so the caption is in Chinese when a
CJK font can be found (``--font``, or one of the usual system fonts); without one the
caption falls back to the invite code alone rather than printing empty boxes.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

# Where Debian, macOS and Windows keep a font with Chinese glyphs.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
BOX = 10  # pixels per QR module: about 4 cm wide at 300 dpi for a typical link
BORDER = 4  # modules of quiet zone, as the standard asks
FONT_SIZE = 24
LINE_GAP = 10


def find_cjk_font(explicit: str | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"no font file {explicit}")
        return path
    return next((Path(p) for p in CJK_FONTS if Path(p).is_file()), None)


def qr_card(link: str, lines: list[str], code: str, font_path: Path | None) -> bytes:
    """A PNG of the QR code for ``link`` with ``lines`` under it (just ``code`` without a
    CJK font)."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX, border=BORDER)
    qr.add_data(link)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    if font_path is not None:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            str(font_path), FONT_SIZE
        )
        caption = [line for line in lines if line]
    else:
        font = ImageFont.load_default(size=FONT_SIZE)
        caption = [code]
    measure = ImageDraw.Draw(image)
    limit = image.width - 2 * BOX
    caption = [part for line in caption for part in _wrap(measure, line, font, limit)]
    boxes = [measure.textbbox((0, 0), line, font=font) for line in caption]
    heights = [bottom - top for _, top, _, bottom in boxes]
    widest = max((right - left for left, _, right, _ in boxes), default=0)
    width = max(image.width, widest + 2 * BOX)
    height = image.height + sum(h + LINE_GAP for h in heights) + BORDER * BOX // 2
    card = Image.new("RGB", (width, height), "white")
    card.paste(image, ((width - image.width) // 2, 0))
    draw = ImageDraw.Draw(card)
    y = image.height - BOX  # keep three modules of the quiet zone clear of text
    for line, (left, top, right, _), line_height in zip(caption, boxes, heights, strict=True):
        draw.text(((width - (right - left)) // 2 - left, y - top), line, fill="black", font=font)
        y += line_height + LINE_GAP
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _wrap(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    limit: int,
) -> list[str]:
    """Break a caption into lines no wider than the QR code: Chinese wraps between any two
    characters, an invite code or other Latin word stays whole."""
    lines: list[str] = []
    current = ""
    for atom in re.findall(r"[A-Za-z0-9_.-]+|\s+|.", text):
        if current.strip() and draw.textlength(current + atom, font=font) > limit:
            lines.append(current.rstrip())
            current = atom.lstrip()
        else:
            current += atom
    if current.strip():
        lines.append(current.rstrip())
    return lines
