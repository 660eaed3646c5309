"""Behaviour of the free-text flat address parser used when residents register."""

import dataclasses

import pytest

from handlers.address import AddressGuess, cn_to_int, parse_address, parse_room

ADDRESSES = [
    # Keyword form, the most common way of writing.
    pytest.param("1栋2单元1502", (1, 2, "1502"), id="keyword_dong_danyuan"),
    pytest.param("1幢2单元1502号", (1, 2, "1502"), id="keyword_zhuang_with_hao_suffix"),
    pytest.param("1号楼2单元1502", (1, 2, "1502"), id="keyword_haolou"),
    pytest.param("1座1502", (1, None, "1502"), id="keyword_zuo_without_unit"),
    pytest.param("3号楼2门301", (3, 2, "301"), id="beijing_men_means_unit"),
    pytest.param("5号2单元301", (5, 2, "301"), id="bare_hao_is_building_before_unit"),
    pytest.param("1楼2单元1502", (1, 2, "1502"), id="bare_lou_is_building_before_unit"),
    pytest.param("3#楼2单元301", (3, 2, "301"), id="hash_lou_building"),
    pytest.param("3#-2-502", (3, 2, "502"), id="hash_building_then_dashes"),
    pytest.param("1栋2-1502", (1, 2, "1502"), id="building_keyword_then_unit_dash_room"),
    pytest.param("1-2单元1502", (1, 2, "1502"), id="dash_building_before_unit_keyword"),
    pytest.param("1栋2单元1502室", (1, 2, "1502"), id="room_with_shi_suffix"),
    pytest.param("1栋2单元302号房", (1, 2, "302"), id="room_with_haofang_suffix"),
    # Chinese numerals.
    pytest.param("一栋二单元1502室", (1, 2, "1502"), id="chinese_building_and_unit"),
    pytest.param("住在三栋一单元402", (3, 1, "402"), id="chinese_numerals_with_words"),
    pytest.param("十二栋两单元301", (12, 2, "301"), id="chinese_teens_and_liang"),
    pytest.param("三号楼二门三零一", (3, 2, "301"), id="chinese_digit_by_digit_room"),
    pytest.param("一号楼二单元十五楼二号", (1, 2, "1502"), id="chinese_floor_and_number_room"),
    pytest.param("七栋三单元", (7, 3, None), id="chinese_without_room"),
    # Room spelled as floor + number.
    pytest.param("1号楼2单元15楼02", (1, 2, "1502"), id="room_as_floor_lou_number"),
    pytest.param("1号楼2单元15层2号", (1, 2, "1502"), id="room_as_floor_ceng_number_padded"),
    pytest.param("1号楼2单元15-02", (1, 2, "1502"), id="room_as_floor_dash_number"),
    # Missing parts.
    pytest.param("1栋1502", (1, None, "1502"), id="no_unit"),
    pytest.param("2单元1502", (None, 2, "1502"), id="no_building"),
    pytest.param("1栋2单元", (1, 2, None), id="no_room"),
    pytest.param("3号楼", (3, None, None), id="building_only"),
    pytest.param("我住三栋", (3, None, None), id="chinese_building_only_at_end"),
    pytest.param("1栋2单元三楼", (1, 2, None), id="floor_without_room_is_not_a_room"),
    pytest.param("1502室", (None, None, "1502"), id="room_with_shi_alone"),
    pytest.param("1502房间漏水", (None, None, "1502"), id="room_with_fangjian_alone"),
    # Separator form.
    pytest.param("1-2-1502", (1, 2, "1502"), id="dashes"),
    pytest.param("1—2—1502", (1, 2, "1502"), id="em_dashes"),
    pytest.param("1——2——1502", (1, 2, "1502"), id="double_em_dashes_from_chinese_ime"),
    pytest.param("1－2－1502", (1, 2, "1502"), id="fullwidth_dashes"),
    pytest.param("1/2/1502", (1, 2, "1502"), id="slashes"),
    pytest.param("1\\2\\1502", (1, 2, "1502"), id="backslashes"),
    pytest.param("1.2.1502", (1, 2, "1502"), id="dots"),
    pytest.param("1、2、1502", (1, 2, "1502"), id="enumeration_commas"),
    pytest.param("1，2，1502", (1, 2, "1502"), id="fullwidth_commas"),
    pytest.param("1 2 1502", (1, 2, "1502"), id="spaces"),
    pytest.param("1 - 2 - 1502", (1, 2, "1502"), id="dashes_with_spaces"),
    pytest.param("12-3-1402", (12, 3, "1402"), id="dashes_two_digit_building"),
    pytest.param("3-2-1502室", (3, 2, "1502"), id="dashes_with_room_suffix"),
    pytest.param("1-1502", (1, None, "1502"), id="two_dash_groups_are_building_and_room"),
    pytest.param("1/1502", (1, None, "1502"), id="two_slash_groups_are_building_and_room"),
    # Surrounding words, spacing, width.
    pytest.param("我住1栋2单元1502", (1, 2, "1502"), id="leading_words"),
    pytest.param("时代帝景1栋2单元1502室", (1, 2, "1502"), id="compound_name_prefix"),
    pytest.param("A区二期3栋2单元1502", (3, 2, "1502"), id="zone_and_phase_prefix"),
    pytest.param("我家在10号楼3单元2201，水管爆了", (10, 3, "2201"), id="sentence_around"),
    pytest.param("我住，1栋2单元1502", (1, 2, "1502"), id="keyword_after_words_and_comma"),
    pytest.param("地址: 1号楼 2单元", (1, 2, None), id="keyword_after_colon_and_space"),
    pytest.param("我住，1-2-1502", (1, 2, "1502"), id="dashes_after_words_and_comma"),
    pytest.param("我住1/2/1502.", (1, 2, "1502"), id="dashes_before_full_stop"),
    pytest.param("１栋２单元１５０２", (1, 2, "1502"), id="fullwidth_digits"),
    pytest.param("１－２－１５０２", (1, 2, "1502"), id="fullwidth_digits_and_dashes"),
    pytest.param("1 栋 2 单元 1502", (1, 2, "1502"), id="spaces_between_everything"),
    pytest.param("1号楼 2单元 1502 室", (1, 2, "1502"), id="spaces_before_suffixes"),
    # Phone numbers next to the address are not part of it.
    pytest.param("1栋2单元1502 13800138000", (1, 2, "1502"), id="keyword_then_phone"),
    pytest.param("1栋2单元1502，电话13800138000", (1, 2, "1502"), id="keyword_then_phone_words"),
    pytest.param("1-2-1502 13800138000", (1, 2, "1502"), id="dashes_then_phone"),
    # The most complete of several readings wins.
    pytest.param("2号楼漏水，我家1-2-1502", (1, 2, "1502"), id="fuller_reading_wins"),
    pytest.param("1栋2单元1502和3栋1单元101", (1, 2, "1502"), id="first_of_equal_readings"),
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES)
def test_parse_address_understands_common_forms(
    text: str, expected: tuple[int | None, int | None, str | None]
) -> None:
    assert parse_address(text) == AddressGuess(*expected)


NOT_ADDRESSES = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("你好", id="greeting"),
    pytest.param("楼上漏水了", id="complaint_without_numbers"),
    pytest.param("/start", id="bot_command"),
    pytest.param("1502", id="bare_room_number"),
    pytest.param("楼上1502漏水", id="bare_room_number_in_sentence"),
    pytest.param("302号", id="number_with_hao_only"),
    pytest.param("13800138000", id="phone_number"),
    pytest.param("138-0013-8000", id="phone_number_with_dashes"),
    pytest.param("138 0013 8000", id="phone_number_with_spaces"),
    pytest.param("1 2 1502 13800138000", id="four_space_groups"),
    pytest.param("2024-05-01", id="iso_date"),
    pytest.param("2024/1/2", id="slash_date"),
    pytest.param("10:30", id="time"),
    pytest.param("3.15", id="decimal"),
    pytest.param("价格1,200元", id="thousands_separator"),
    pytest.param("1-2-3", id="three_groups_with_short_room"),
    pytest.param("0-2-1502", id="zero_building"),
    pytest.param("1000-2-1502", id="four_digit_building"),
    pytest.param("1 1502", id="two_space_groups_are_ambiguous"),
    pytest.param("我住3楼", id="floor_is_not_a_building"),
    pytest.param("3楼漏水", id="floor_complaint"),
    pytest.param("一栋房子", id="idiom_a_house"),
    pytest.param("一座城市", id="idiom_a_city"),
    pytest.param("一门心思", id="idiom_with_men"),
    pytest.param("三室一厅", id="flat_layout_rooms"),
    pytest.param("2房1厅", id="flat_layout_with_digits"),
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_parse_address_returns_none_without_address_signal(text: str) -> None:
    assert parse_address(text) is None


def test_parse_address_ignores_letter_case() -> None:
    lower = parse_address("tower a, 1栋2单元1502 ok")
    assert lower == parse_address("TOWER A, 1栋2单元1502 OK") == AddressGuess(1, 2, "1502")


ROOMS = [
    pytest.param("1502", "1502", id="digits"),
    pytest.param("302", "302", id="three_digits"),
    pytest.param("10101", "10101", id="five_digits"),
    pytest.param("1502室", "1502", id="shi_suffix"),
    pytest.param("302号", "302", id="hao_suffix"),
    pytest.param("302号房", "302", id="haofang_suffix"),
    pytest.param("5号", "5", id="short_number_with_suffix"),
    pytest.param("１５０２", "1502", id="fullwidth_digits"),
    pytest.param(" 1502 ", "1502", id="surrounding_spaces"),
    pytest.param("1502。", "1502", id="trailing_chinese_full_stop"),
    pytest.param("房号：1502", "1502", id="fanghao_prefix"),
    pytest.param("15楼02号", "1502", id="floor_lou_number"),
    pytest.param("15楼2号", "1502", id="floor_lou_single_digit_number"),
    pytest.param("3层01", "301", id="floor_ceng_number"),
    pytest.param("15-02", "1502", id="floor_dash_number"),
    pytest.param("十五楼二号", "1502", id="chinese_floor_number"),
    pytest.param("一五零二", "1502", id="chinese_digit_by_digit"),
    pytest.param("三零二室", "302", id="chinese_digits_with_suffix"),
    pytest.param("0502", "502", id="leading_zero_dropped"),
]


@pytest.mark.parametrize(("text", "expected"), ROOMS)
def test_parse_room_reads_bare_room_numbers(text: str, expected: str) -> None:
    assert parse_room(text) == expected


NOT_ROOMS = [
    pytest.param("", id="empty"),
    pytest.param("你好", id="words"),
    pytest.param("5", id="single_digit_without_suffix"),
    pytest.param("12", id="two_digits_without_suffix"),
    pytest.param("123456", id="six_digits"),
    pytest.param("13800138000", id="phone_number"),
    pytest.param("1-1502", id="building_and_room"),
    pytest.param("1栋2单元1502", id="full_address"),
    pytest.param("我住1502", id="room_inside_sentence"),
    pytest.param("15楼", id="floor_only"),
    pytest.param("15-2", id="dash_needs_two_digit_number"),
    pytest.param("15楼100号", id="number_on_floor_too_long"),
]


@pytest.mark.parametrize("text", NOT_ROOMS)
def test_parse_room_rejects_non_rooms(text: str) -> None:
    assert parse_room(text) is None


CN_NUMBERS = [
    pytest.param("一", 1, id="one"),
    pytest.param("二", 2, id="two"),
    pytest.param("两", 2, id="liang"),
    pytest.param("九", 9, id="nine"),
    pytest.param("零", 0, id="zero"),
    pytest.param("〇", 0, id="ideographic_zero"),
    pytest.param("十", 10, id="ten"),
    pytest.param("十一", 11, id="eleven"),
    pytest.param("二十", 20, id="twenty"),
    pytest.param("二十三", 23, id="twenty_three"),
    pytest.param("一百", 100, id="hundred"),
    pytest.param("两百", 200, id="liang_hundred"),
    pytest.param("一百零二", 102, id="hundred_zero_two"),
    pytest.param("一百一十", 110, id="hundred_ten"),
    pytest.param("一百一", 110, id="colloquial_hundred_one"),
    pytest.param("三千五", 3500, id="colloquial_thousands"),
    pytest.param("一千零五十", 1050, id="thousand_zero_fifty"),
    pytest.param("一五零二", 1502, id="digit_by_digit"),
    pytest.param("1502", 1502, id="arabic"),
    pytest.param("１５", 15, id="fullwidth"),
    pytest.param(" 7 ", 7, id="surrounding_spaces"),
]


@pytest.mark.parametrize(("text", "expected"), CN_NUMBERS)
def test_cn_to_int_reads_numerals(text: str, expected: int) -> None:
    assert cn_to_int(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="letters"),
        pytest.param("1百", id="mixed_arabic_and_chinese"),
        pytest.param("十十", id="repeated_unit"),
        pytest.param("十百", id="ascending_units"),
        pytest.param("二三十", id="two_digits_before_unit"),
        pytest.param("零十", id="zero_before_unit"),
        pytest.param("-1", id="negative"),
    ],
)
def test_cn_to_int_rejects_non_numerals(text: str) -> None:
    assert cn_to_int(text) is None


@pytest.mark.parametrize(
    ("room", "floor"),
    [
        pytest.param("1502", 15, id="four_digits"),
        pytest.param("302", 3, id="three_digits"),
        pytest.param("10101", 101, id="five_digits"),
        pytest.param("12", None, id="two_digits"),
        pytest.param("5", None, id="one_digit"),
        pytest.param(None, None, id="no_room"),
    ],
)
def test_floor_is_room_without_last_two_digits(room: str | None, floor: int | None) -> None:
    assert AddressGuess(building=1, unit=2, room=room).floor == floor


def test_parsed_guess_exposes_floor() -> None:
    guess = parse_address("1栋2单元1502")
    assert guess is not None and guess.floor == 15


def test_address_guess_is_immutable() -> None:
    guess = AddressGuess(building=1, unit=2, room="1502")
    with pytest.raises(dataclasses.FrozenInstanceError):
        guess.room = "302"  # type: ignore[misc]
