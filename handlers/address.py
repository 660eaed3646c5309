"""Guess a resident's flat address (building / unit / room) from one line of free text.

Residents tell the bot where they live in whatever form they are used to: ``1栋2单元1502``,
``1-2-1502``, ``一栋二单元1502室``, ``3号楼2门301``, ``3#-2-502``, fullwidth digits, stray
spaces, the compound name or "我住..." around it. Making them pick building, unit and room
from buttons is slow and puts older residents off, so we accept free text and guess; the
caller confirms the guess with the resident. Pure stdlib, no I/O.

Two readings are tried and the one yielding more fields wins (keyword reading on a tie):

* keyword form: ``<n>栋|幢|座|号楼|号栋|#`` then ``<n>单元|门`` then a room (``1502``,
  ``1502室/号/房/号房/房间``, ``15-02``, ``15楼02``, ``十五楼二号``); any part may be missing,
  but a room alone only counts when it has 3+ digits and a ``室``/``房`` suffix;
* separator form: exactly three numeric groups ``b-u-room`` (dashes, slashes, dots, commas,
  ``、`` or spaces), or exactly two groups ``b-room`` separated by a dash or slash.
"""

import re
import unicodedata
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "两": 2} | {ch: i for i, ch in enumerate("一二三四五六七八九", 1)}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN = "".join(_DIGITS) + "".join(_UNITS)
# NFKC already folds fullwidth "－"; these dash look-alikes survive it.
_DASHES = str.maketrans(dict.fromkeys("—–―‐‑‒−", "-"))

_NUM = rf"(?<!\d)(?:\d{{1,3}}|[{_CN}]+)"
_GAP = r"[\s,，、:：/-]*"
# Building. Bare 号/楼/- only count as "building" when a unit follows (otherwise 3楼 is a floor).
_BUILDING = (
    rf"(?P<b>{_NUM})\s*(?:号\s*楼|号?\s*[栋幢座]|\#\s*楼?|[号楼/-](?=\s*{_NUM}\s*(?:单元|门)))"
    # "1栋2-1502": a dash-separated unit straight after a building keyword.
    rf"(?:{_GAP}(?P<u2>\d{{1,2}})\s*[-/]\s*(?=\d{{3,5}}(?!\d)))?"
)
_UNIT = rf"(?P<u>{_NUM})\s*(?:单元|门(?![口卫面]))"
_SUFFIX = r"(?:号?房间?|[室号])"
_ROOM = (
    rf"(?<!\d)(?P<rf>\d{{1,3}}|[{_CN}]+)\s*"  # floor + number: 15楼02, 十五楼二号, 15-02
    rf"(?:[楼层]\s*(?P<rn>\d{{1,2}}(?!\d)|[{_CN}]+)|-\s*(?P<rd>\d{{2}}(?!\d)))\s*{_SUFFIX}?"
    rf"|(?<!\d)(?P<r>\d{{1,5}})(?!\d)(?!\s*[楼层])\s*(?P<rs>{_SUFFIX})?"
    rf"|(?P<rc>[{_CN}]+)(?!\s*[楼层])\s*(?P<rcs>{_SUFFIX})?"
)
# Gaps only *after* a part: a leading gap would let a match start before the building number
# and read it as a room ("a, 1栋2单元" must not become room "1").
_KEYWORD_RE = re.compile(rf"(?:(?:{_BUILDING}){_GAP})?(?:(?:{_UNIT}){_GAP})?(?:{_ROOM})?")
_ROOM_ALONE_RE = re.compile(rf"(?:房号|房间号?|门牌号?)?[:\s]*(?:{_ROOM})")
_SEP = r"\s*[-/\\.、,]+\s*|\s+"
# Maximal runs of separated numbers (single numbers too), so a 4-group run such as a phone
# number "138-0013-8000" is consumed whole instead of yielding a 3-group sub-run.
_CHAIN_RE = re.compile(rf"\d+(?:(?:{_SEP})\d+)*")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class AddressGuess:
    """What a message says about the resident's flat; any field may be unknown."""

    building: int | None  # 楼栋 number: 1 for "1栋" / "1号楼" / "一幢" / "1座"
    unit: int | None  # 单元 number
    room: str | None  # room number as a digit string, e.g. "1502", "302"

    @property
    def floor(self) -> int | None:
        """Room number without its last two digits ("1502" -> 15); None if under 3 digits."""
        if self.room is None or len(self.room) < 3:
            return None
        return int(self.room[:-2])


def _normalize(text: str) -> str:
    """Fold fullwidth forms, dash look-alikes and case so the regexes see one alphabet."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES).lower()


def cn_to_int(text: str) -> int | None:
    """Chinese or arabic numerals (一, 两, 十一, 二十三, 一百零二, 一五零二, １５) -> int."""
    s = _normalize(text).strip()
    if s.isascii() and s.isdigit():
        return int(s)
    if not s or any(ch not in _DIGITS and ch not in _UNITS for ch in s):
        return None
    if not any(ch in _UNITS for ch in s):  # read digit by digit: 一五零二 -> 1502
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, digit, last_unit = 0, None, 10_000
    for ch in s:
        if ch in _DIGITS:
            if digit not in (None, 0):  # two digits in a row, e.g. 二三十
                return None
            digit = _DIGITS[ch]
        else:
            unit = _UNITS[ch]
            if unit >= last_unit or digit == 0:  # 十百, 零十
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None and s[-2] in _UNITS and last_unit >= 100:
        return total + digit * last_unit // 10  # colloquial 一百一 = 110, 三千五 = 3500
    return total + (digit or 0)


def _positive(text: str | None) -> int | None:
    value = cn_to_int(text) if text else None
    return value or None


def _room_from(m: re.Match[str]) -> str | None:
    """Room digits from a ``_ROOM`` match; bare numbers need 3+ digits unless suffixed."""
    if m["rf"]:
        floor, number = _positive(m["rf"]), _positive(m["rn"] or m["rd"])
        if floor is None or number is None or number > 99:
            return None
        value: int | None = floor * 100 + number
    elif m["r"]:
        value = int(m["r"]) if len(m["r"]) >= 3 or m["rs"] else None
    elif m["rc"]:
        value = cn_to_int(m["rc"])
        value = value if value is not None and (value >= 100 or m["rcs"]) else None
    else:
        return None
    return str(value) if value and value < 100_000 else None


def _score(guess: AddressGuess) -> int:
    return sum(field is not None for field in (guess.building, guess.unit, guess.room))


def _keyword_guess(text: str) -> AddressGuess | None:
    best: AddressGuess | None = None
    for m in _KEYWORD_RE.finditer(text):
        guess = AddressGuess(_positive(m["b"]), _positive(m["u"] or m["u2"]), _room_from(m))
        score = _score(guess)
        if score == 0:
            continue
        suffix = m["rs"] or m["rcs"] or "号"
        if (
            guess.building is None
            and guess.unit is None
            and (suffix == "号" or len(guess.room or "") < 3)
        ):
            continue  # "1502", "302号", "2房" alone are not addresses, "1502室" is
        after = text[m.end() : m.end() + 1]
        if score == 1 and not re.search(r"\d", m[0]) and _CJK_RE.match(after):
            continue  # idioms with Chinese numerals: 一栋房子, 一座城市, 两栋楼
        if best is None or score > _score(best):
            best = guess
    return best


def _separated(run: str) -> AddressGuess | None:
    """``b-u-room`` (any separator) or ``b-room`` (dash or slash only) -> guess."""
    groups, seps = re.split(_SEP, run), re.findall(_SEP, run)
    if len(groups) == 3 and len(groups[0]) <= 3 and len(groups[1]) <= 2:
        b, u, r = groups
    elif len(groups) == 2 and len(groups[0]) <= 3 and re.search(r"[-/\\]", seps[0]):
        (b, r), u = groups, None
    else:
        return None
    if not 3 <= len(r) <= 5 or int(r) < 100 or int(b) == 0 or (u is not None and int(u) == 0):
        return None
    return AddressGuess(int(b), int(u) if u is not None else None, str(int(r)))


def _separator_guess(text: str) -> AddressGuess | None:
    best: AddressGuess | None = None
    for m in _CHAIN_RE.finditer(text):
        # "1-2-1502 13800138000": also try the space-delimited pieces of the run.
        for run in (m[0], *re.split(r"(?<=\d)\s+(?=\d)", m[0])):
            guess = _separated(run)
            if guess and (best is None or _score(guess) > _score(best)):
                best = guess
    return best


def parse_address(text: str) -> AddressGuess | None:
    """Return what the text says about building/unit/room, or None if it is not an address."""
    normalized = _normalize(text)
    guesses = [g for g in (_keyword_guess(normalized), _separator_guess(normalized)) if g]
    return max(guesses, key=_score, default=None)


def parse_room(text: str) -> str | None:
    """A room number typed alone ("1502", "1502室", "１５０２", "15楼02号") -> "1502"."""
    s = _normalize(text).strip(" \t\r\n。.!?,")
    m = _ROOM_ALONE_RE.fullmatch(s)
    return _room_from(m) if m else None
