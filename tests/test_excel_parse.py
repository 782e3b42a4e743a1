"""Cell values of a hand-typed ledger (crm.excel.parse): text, amounts in 万 of their
currency, partial dates, stage and status words, region lists. Pure functions: no app,
no database."""
import re
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from crm import lifecycle
from crm.excel import parse
from crm.excel.columns import STAGE_WORDS, STATUS_WORDS
from crm.excel.parse import (
    Amount, CellError, Note, ParsedDate, Progress, clean, header_unit, is_unknown,
    parse_amount, parse_date, parse_progress, parse_status, parse_text, parse_unit,
    split_names,
)
from crm.lifecycle import (
    ACTIVE, AT_CAPACITY, DAY, DROPPED, LEAD, MONTH, ON_HOLD, PRODUCING, SIGNED, STARTED, YEAR,
    PartialDate,
)
from crm.models import CNY, USD


def error_of(func, *args) -> CellError:
    """The CellError ``func(*args)`` raises."""
    with pytest.raises(CellError) as info:
        func(*args)
    return info.value


# --- errors and notes ---------------------------------------------------------------

def test_cell_error_keeps_its_template_and_gives_the_filled_text():
    exc = CellError("无法识别的日期「%(text)s」", {"text": "明年"})
    assert isinstance(exc, ValueError)
    assert exc.message == "无法识别的日期「%(text)s」"
    assert exc.params == {"text": "明年"}
    assert str(exc) == "无法识别的日期「明年」"
    assert str(CellError("金额不能为负数")) == "金额不能为负数"


def test_note_is_a_frozen_message_with_params():
    note = Note("日期「%(text)s」缺少年份", {"text": "4月"})
    assert str(note) == "日期「4月」缺少年份"
    with pytest.raises(AttributeError):
        note.message = "x"


# --- clean, is_unknown, parse_text, split_names -------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("", None),
    ("   ", None),
    ("\u3000\u3000", None),
    ("\xa0\t\n", None),
    ("\u3000恒源光伏\xa0", "恒源光伏"),
    ("\t上海\r\n", "上海"),
    ("\ufeff韩国\u200b", "韩国"),
    ("１２．５", "12.5"),
    ("１，２００", "1,200"),
    ("２０２２－０３－１１", "2022-03-11"),
    ("２０２２／３／１１", "2022/3/11"),
    ("１０：３０", "10:30"),
    ("项目 名称", "项目 名称"),                      # inner spaces stay
    # Full-width punctuation outside numbers is Chinese punctuation and stays.
    ("已签约，待开工：二期", "已签约，待开工：二期"),
    ("年产１２ＧＷ组件", "年产12ＧＷ组件"),
    ("=A1+B1", "=A1+B1"),
])
def test_clean_text(value, expected):
    assert clean(value) == expected


@pytest.mark.parametrize("value", [
    12, 12.5, 0, Decimal("1.5"), True, datetime(2022, 3, 11, 8, 0), date(2022, 3, 11)])
def test_clean_leaves_other_values_alone(value):
    assert clean(value) is value


def test_clean_turns_nan_into_none():
    assert clean(float("nan")) is None


@pytest.mark.parametrize("value", [
    None, "", " ", "\u3000", float("nan"),
    "/", "／", "\\", "＼", "-", "－", "—", "--", "——", "//", "/ /", "?", "？",
    "待定", "不详", "未知", "暂无", "无", "未定", "待确定", " 待定 ", "N/A",
])
def test_is_unknown(value):
    assert is_unknown(value) is True


@pytest.mark.parametrize("value", [0, 0.0, "0", "上海", "无锡", "12", "-5", "2022"])
def test_is_unknown_is_never_zero_or_text(value):
    assert is_unknown(value) is False


@pytest.mark.parametrize("value, expected", [
    (None, ""),
    ("  恒源 12GW 光伏组件 ", "恒源 12GW 光伏组件"),
    ("\u3000", ""),
    (12, "12"),
    (12.0, "12"),
    (12.5, "12.5"),
    (0.1 + 0.2, "0.3"),                              # as the cell shows it
    (91320500123456789, "91320500123456789"),
    (datetime(2022, 3, 11, 15, 30), "2022-03-11"),
    (date(2022, 3, 11), "2022-03-11"),
    (True, "TRUE"),
    ("=A1+B1", "=A1+B1"),                            # a formula's text stays literal
    ("+86 138", "+86 138"),
    ("建设内容：厂房，仓库", "建设内容：厂房，仓库"),
])
def test_parse_text(value, expected):
    assert parse_text(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("上海、苏州", ["上海", "苏州"]),
    ("上海，苏州", ["上海", "苏州"]),
    ("上海,苏州", ["上海", "苏州"]),
    ("上海;苏州", ["上海", "苏州"]),
    ("上海；苏州", ["上海", "苏州"]),
    ("上海/苏州", ["上海", "苏州"]),
    ("上海／苏州", ["上海", "苏州"]),
    ("上海\n苏州", ["上海", "苏州"]),
    ("上海\r\n苏州", ["上海", "苏州"]),
    (" 上海 、\u3000苏州\u3000", ["上海", "苏州"]),
    ("韩国、上海、韩国", ["韩国", "上海"]),
    ("上海、、苏州、", ["上海", "苏州"]),
    ("珠三角", ["珠三角"]),
    ("上海、待定", ["上海"]),
    ("/", []),
    ("", []),
    (None, []),
])
def test_split_names(value, expected):
    assert split_names(value) == expected


# --- units and headers --------------------------------------------------------------

@pytest.mark.parametrize("text, currency, factor", [
    ("元", CNY, "0.0001"),
    ("万元", CNY, "1"),
    ("万", CNY, "1"),
    ("亿元", CNY, "10000"),
    ("亿", CNY, "10000"),
    ("美元", USD, "0.0001"),
    ("万美元", USD, "1"),
    ("亿美元", USD, "10000"),
    ("人民币亿元", CNY, "10000"),
    ("人民币万元", CNY, "1"),
    ("亿人民币", CNY, "10000"),
    ("亿元人民币", CNY, "10000"),
    ("亿元（人民币）", CNY, "10000"),
    ("万美金", USD, "1"),
    ("美金", USD, "0.0001"),
    ("USD", USD, "0.0001"),
    ("ＵＳＤ", USD, "0.0001"),
    ("万USD", USD, "1"),
    (" 万 美元 ", USD, "1"),
])
def test_parse_unit(text, currency, factor):
    assert parse_unit(text) == (currency, Decimal(factor))


@pytest.mark.parametrize("text", ["亿日元", "千元", "个", "人民币万美元", "abc", ""])
def test_parse_unit_refuses_unknown_units(text):
    exc = error_of(parse_unit, text)
    assert exc.message == "无法识别的金额单位「%(text)s」"
    assert exc.params == {"text": text}


@pytest.mark.parametrize("header, expected", [
    ("总投资（亿元）", ("总投资", "亿元")),
    ("总投资(万元)", ("总投资", "万元")),
    ("计划总投资（万美元）", ("计划总投资", "万美元")),
    ("总投资【亿元】", ("总投资", "亿元")),
    ("总投资/亿元", ("总投资", "亿元")),
    ("总投资／亿元", ("总投资", "亿元")),
    ("总投资 亿元", ("总投资", "亿元")),
    ("总投资\n（亿元）", ("总投资", "亿元")),
    ("总投资（单位：亿元）", ("总投资", "亿元")),
    ("总 投 资（万 美 元）", ("总投资", "万美元")),
    ("项目\n名称", ("项目名称", None)),
    ("存在问题（需协调事项）", ("存在问题（需协调事项）", None)),
    ("签约/开工时间", ("签约/开工时间", None)),
    ("总投资", ("总投资", None)),
    ("金额单位", ("金额单位", None)),
    ("总投资（亿日元）", ("总投资（亿日元）", None)),
    # A header that is only a unit gives the unit of the column named above it.
    ("亿元", ("", "亿元")),
    ("（万美元）", ("", "万美元")),
    ("单位：万元", ("", "万元")),
    # A bare currency names the currency, not a unit: 人民币 under 总投资（亿元） must not
    # turn 亿元 into 元.
    ("人民币", ("人民币", None)),
    ("美元", ("美元", None)),
    ("", ("", None)),
])
def test_header_unit(header, expected):
    assert header_unit(header) == expected


# --- amounts ------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, wan, currency, approximate, raw", [
    ("12.5", "亿元", "125000", CNY, False, "12.5"),
    ("12.5", None, "125000", CNY, False, "12.5"),        # default unit: 亿元
    ("12.5亿", None, "125000", CNY, False, "12.5亿"),
    ("约50亿元", None, "500000", CNY, True, "约50亿元"),
    ("约 50", "亿元", "500000", CNY, True, "约 50"),
    ("50亿元左右", None, "500000", CNY, True, "50亿元左右"),
    ("50多亿元", None, "500000", CNY, True, "50多亿元"),
    ("＞10亿", None, "100000", CNY, True, "＞10亿"),
    ("≥10亿元", None, "100000", CNY, True, "≥10亿元"),
    ("超10亿元", None, "100000", CNY, True, "超10亿元"),
    ("10亿以上", None, "100000", CNY, True, "10亿以上"),
    ("3亿美元", None, "30000", USD, False, "3亿美元"),
    ("9800万美元", None, "9800", USD, False, "9800万美元"),
    ("9800", "万美元", "9800", USD, False, "9800"),
    ("5000万元", None, "5000", CNY, False, "5000万元"),
    ("5000万元", "亿元", "5000", CNY, False, "5000万元"),   # the cell's unit wins
    ("3亿美元", "亿元", "30000", USD, False, "3亿美元"),
    ("1,200", "万元", "1200", CNY, False, "1,200"),
    ("1，200", "万元", "1200", CNY, False, "1,200"),
    ("1,234,567.5", "万元", "1234567.5", CNY, False, "1,234,567.5"),
    ("１２．５", "亿元", "125000", CNY, False, "12.5"),
    (" 12.5 ", "亿元", "125000", CNY, False, "12.5"),
    ("人民币50亿元", None, "500000", CNY, False, "人民币50亿元"),
    ("USD 300万", None, "300", USD, False, "USD 300万"),
    ("5000000元", None, "500", CNY, False, "5000000元"),
    ("0", "亿元", "0", CNY, False, "0"),
    ("-0", "亿元", "0", CNY, False, "-0"),
    (".5", "亿元", "5000", CNY, False, ".5"),
    (12, "亿元", "120000", CNY, False, "12"),
    (12.5, None, "125000", CNY, False, "12.5"),
    (12.5, "万美元", "12.5", USD, False, "12.5"),
    (0, "亿元", "0", CNY, False, "0"),
    (0.1 + 0.2, "亿元", "3000", CNY, False, "0.3"),    # the cell shows 0.3
    (Decimal("2.75"), "亿元", "27500", CNY, False, "2.75"),
    ("0.000001", "亿元", "0.01", CNY, False, "0.000001"),  # 100 元
    ("0.0001", "万元", "0.0001", CNY, False, "0.0001"),    # 1 元
    (12, "/", "120000", CNY, False, "12"),              # an unknown unit cell: default
])
def test_parse_amount(value, unit, wan, currency, approximate, raw):
    amount = parse_amount(value, unit)
    assert amount == Amount(Decimal(wan), currency, approximate, raw)
    assert isinstance(amount.wan, Decimal)
    assert amount.wan.as_tuple().exponent == -4        # quantized to 1 元
    assert amount.wan.is_signed() is False


def test_an_amount_is_exact_not_float_arithmetic():
    # 0.07 亿 as a float times 10000 is 700.0000000000001 万; the text route is exact.
    assert 0.07 * 10000 != 700
    assert parse_amount(0.07, "亿元").wan == Decimal("700")
    assert str(parse_amount("12.5", "亿元").wan) == "125000.0000"


@pytest.mark.parametrize("value", [None, "", " ", "/", "／", "-", "——", "待定", "不详", "未知",
                                   "暂无", "无", float("nan")])
def test_unknown_amounts_are_none_never_zero(value):
    assert parse_amount(value, "亿元") is None


@pytest.mark.parametrize("value", ["-5", "－5", "-5亿元", "约-5", -5, -0.5, Decimal("-1")])
def test_negative_amounts_are_refused(value):
    exc = error_of(parse_amount, value, "亿元")
    assert (exc.message, exc.params) == ("金额不能为负数", {})


@pytest.mark.parametrize("value, text", [
    ("abc", "abc"), ("1,2", "1,2"), ("1,2000", "1,2000"), ("12.5.3", "12.5.3"),
    ("五十亿", "五十亿"), ("约50亿元（其中一期20亿）", "约50亿元（其中一期20亿）"),
    ("亿元", "亿元"), (True, "TRUE"), (False, "FALSE"), (date(2022, 3, 11), "2022-03-11"),
    (datetime(2022, 3, 11), "2022-03-11"), (float("inf"), "inf"),
])
def test_unreadable_amounts_are_refused(value, text):
    exc = error_of(parse_amount, value, "亿元")
    assert exc.message == "无法识别的金额「%(text)s」"
    assert exc.params == {"text": text}
    assert str(exc) == f"无法识别的金额「{text}」"


@pytest.mark.parametrize("value, unit, text", [
    ("50亿日元", None, "亿日元"), ("50个", None, "个"), ("50", "千元", "千元")])
def test_unknown_amount_units_are_refused(value, unit, text):
    exc = error_of(parse_amount, value, unit)
    assert (exc.message, exc.params) == ("无法识别的金额单位「%(text)s」", {"text": text})


@pytest.mark.parametrize("value, unit", [
    ("0.000000001", "亿元"),     # 0.1 元
    ("1.5", "元"),
    ("0.00001", "万元"),
    (0.123456789, "亿元"),
])
def test_amounts_finer_than_one_yuan_are_refused(value, unit):
    exc = error_of(parse_amount, value, unit)
    assert (exc.message, exc.params) == ("金额最多精确到元", {})


def test_amounts_beyond_the_column_are_refused():
    assert parse_amount("9999999999", "亿元").wan == Decimal("99999999990000")
    exc = error_of(parse_amount, "10000000000", "亿元")
    assert (exc.message, exc.params) == ("金额「%(text)s」过大", {"text": "10000000000"})


# --- dates --------------------------------------------------------------------------

def pdate(y, m=1, d=1, precision=DAY):
    """Shorthand for a PartialDate."""
    return PartialDate(date(y, m, d), precision)


@pytest.mark.parametrize("value, expected", [
    (datetime(2022, 3, 11, 15, 30), pdate(2022, 3, 11)),
    (datetime(2022, 3, 11), pdate(2022, 3, 11)),
    (date(2019, 5, 8), pdate(2019, 5, 8)),
    (44631, pdate(2022, 3, 11)),                      # Excel serial
    (44631.0, pdate(2022, 3, 11)),
    (44631.75, pdate(2022, 3, 11)),                   # the time of day is dropped
    (2022, pdate(2022, precision=YEAR)),
    (2022.0, pdate(2022, precision=YEAR)),
    (20220311, pdate(2022, 3, 11)),
    (2023.6, pdate(2023, 6, precision=MONTH)),
    (2023.12, pdate(2023, 12, precision=MONTH)),
    (2023.01, pdate(2023, 1, precision=MONTH)),
    ("2021-10-11", pdate(2021, 10, 11)),
    ("2019/05/08", pdate(2019, 5, 8)),
    ("2022.3.11", pdate(2022, 3, 11)),
    ("2022年8月2日", pdate(2022, 8, 2)),
    ("2022年8月2号", pdate(2022, 8, 2)),
    ("2022 年 8 月 2 日", pdate(2022, 8, 2)),
    ("20220311", pdate(2022, 3, 11)),
    ("２０２２－０３－１１", pdate(2022, 3, 11)),
    ("2022-03-11 00:00:00", pdate(2022, 3, 11)),
    ("2022-03", pdate(2022, 3, precision=MONTH)),
    ("2023年6月", pdate(2023, 6, precision=MONTH)),
    ("2023年6月份", pdate(2023, 6, precision=MONTH)),
    ("2022.03", pdate(2022, 3, precision=MONTH)),
    ("2023.6", pdate(2023, 6, precision=MONTH)),
    ("2023.1", pdate(2023, 1, precision=MONTH)),      # typed as text: January, no doubt
    ("2018年", pdate(2018, precision=YEAR)),
    ("2018", pdate(2018, precision=YEAR)),
])
def test_parse_date(value, expected):
    parsed = parse_date(value)
    assert parsed == ParsedDate(expected, None, "")
    assert parsed.value.precision == expected.precision


def test_a_numeric_2023_1_is_january_with_a_warning():
    parsed = parse_date(2023.1)
    assert parsed.value == pdate(2023, 1, precision=MONTH)
    assert parsed.note == ""
    assert parsed.warning.params == {"text": "2023.1", "date": "2023-01", "year": "2023"}
    assert str(parsed.warning) == ("数字 2023.1 按 2023-01 导入；Excel 会把数字 2023.10 存成 "
                                   "2023.1，如原意是 10 月，请填写 2023-10")


@pytest.mark.parametrize("value, expected", [
    ("2022年底", pdate(2022, precision=YEAR)),
    ("2022年初", pdate(2022, precision=YEAR)),
    ("2022年上半年", pdate(2022, precision=YEAR)),
    ("2022年下半年", pdate(2022, precision=YEAR)),
    ("2022年内", pdate(2022, precision=YEAR)),
    ("2022年三季度", pdate(2022, precision=YEAR)),
    ("2022年底前", pdate(2022, precision=YEAR)),
    ("2022年3月中旬", pdate(2022, 3, precision=MONTH)),
    ("2022年3月底", pdate(2022, 3, precision=MONTH)),
])
def test_dates_with_words_keep_the_words_as_a_note(value, expected):
    assert parse_date(value) == ParsedDate(expected, None, value)


@pytest.mark.parametrize("value", ["4月28日", "4月28号", "4月", "5月中旬", "12月底", "4/28"])
def test_dates_without_a_year_are_not_guessed(value):
    parsed = parse_date(value)
    assert parsed.value is None
    assert parsed.note == value
    assert parsed.warning == Note("日期「%(text)s」缺少年份，未导入，原文记入备注", {"text": value})
    assert str(parsed.warning) == f"日期「{value}」缺少年份，未导入，原文记入备注"


@pytest.mark.parametrize("value", [None, "", " ", "/", "-", "待定", "不详", float("nan")])
def test_unknown_dates_are_none(value):
    assert parse_date(value) == ParsedDate(None, None, "")


@pytest.mark.parametrize("value, text", [
    ("2022-02-30", "2022-02-30"),
    ("2022-13", "2022-13"),
    ("2022年2月30日", "2022年2月30日"),
    ("2022.2.29", "2022.2.29"),
    ("20221301", "20221301"),
    ("13月", "13月"),
    (2023.13, "2023.13"),
    (20220230, "20220230"),
])
def test_impossible_dates_name_the_text(value, text):
    exc = error_of(parse_date, value)
    assert (exc.message, exc.params) == ("日期 %(text)s 不存在", {"text": text})
    assert str(exc) == f"日期 {text} 不存在"


@pytest.mark.parametrize("value, text", [
    ("明年", "明年"), ("abc", "abc"), ("2022年3月11日签约", "2022年3月11日签约"),
    ("1800年", "1800年"), ("22.3.11", "22.3.11"), (12.5, "12.5"), (5, "5"), (3000, "3000"),
    (9999, "9999"), (2023.123, "2023.123"), (-44631, "-44631"), (True, "TRUE"),
    (time(8, 30), "08:30:00"),
])
def test_unreadable_dates_are_refused(value, text):
    exc = error_of(parse_date, value)
    assert (exc.message, exc.params) == ("无法识别的日期「%(text)s」", {"text": text})


def test_future_dates_are_left_to_the_importer():
    assert parse_date("2999-12-31").value == pdate(2999, 12, 31)


# --- stage and status ---------------------------------------------------------------

STAGE_CASES = {
    LEAD: ["在谈", "洽谈", "洽谈中", "跟踪洽谈", "跟踪", "意向", "推介", "储备", "谈判中",
           "在洽谈"],
    SIGNED: ["签约", "已签约", "已签约未开工", "前期工作", "前期", "签约待建", "已注册"],
    STARTED: ["开工", "已开工", "在建", "建设中", "开工建设", "已开工未投产", "续建", "新开工"],
    PRODUCING: ["投产", "已投产", "竣工投产", "建成投产", "已投产未达产"],
    AT_CAPACITY: ["达产", "已达产", "全面达产", "满产"],
}


@pytest.mark.parametrize("word, stage", [
    (w, s) for s, words in STAGE_CASES.items() for w in words])
def test_stage_words(word, stage):
    assert parse_progress(word) == Progress(stage, False, None)


@pytest.mark.parametrize("word", ["部分投产", "试生产", "部分达产", "Partial production"])
def test_partial_production_words(word):
    assert parse_progress(word) == Progress(PRODUCING, True, None)


@pytest.mark.parametrize("word, status", [
    ("暂缓", ON_HOLD), ("暂停", ON_HOLD), ("搁置", ON_HOLD), ("停滞", ON_HOLD),
    ("终止", DROPPED), ("已终止", DROPPED), ("解约", DROPPED), ("取消", DROPPED),
    ("放弃", DROPPED), ("退出", DROPPED), ("已退出", DROPPED), ("On hold", ON_HOLD),
])
def test_status_words_in_the_stage_column(word, status):
    assert parse_progress(word) == Progress(None, False, status)


@pytest.mark.parametrize("word, expected", [
    ("签约阶段", Progress(SIGNED)),
    (" 在 谈 ", Progress(LEAD)),
    ("\u3000开工\u3000", Progress(STARTED)),
    ("lead", Progress(LEAD)), ("signed", Progress(SIGNED)), ("started", Progress(STARTED)),
    ("producing", Progress(PRODUCING)), ("at_capacity", Progress(AT_CAPACITY)),
    ("Lead", Progress(LEAD)), ("At capacity", Progress(AT_CAPACITY)),
    ("ＬＥＡＤ", Progress(LEAD)),
])
def test_stage_words_are_matched_loosely(word, expected):
    assert parse_progress(word) == expected


def test_every_word_the_template_offers_reads_back():
    """The template's drop-down words (columns.STAGE_WORDS) and the stage labels."""
    got = [parse_progress(w) for w in STAGE_WORDS]
    assert got == [Progress(LEAD), Progress(SIGNED), Progress(STARTED), Progress(PRODUCING),
                   Progress(PRODUCING, True), Progress(AT_CAPACITY)]
    for stage, label in lifecycle.STAGE_LABELS.items():
        assert parse_progress(str(label)) == Progress(stage)


@pytest.mark.parametrize("value", [None, "", "/", "待定", "-"])
def test_blank_stage_is_none(value):
    assert parse_progress(value) is None


@pytest.mark.parametrize("word", ["黄了", "正常推进", "签约了", "阶段", 3])
def test_unknown_stage_words_are_refused_with_the_accepted_words(word):
    exc = error_of(parse_progress, word)
    assert exc.params == {"text": str(word)}
    assert str(exc) == (f"无法识别的项目阶段「{word}」"
                        "（可填：在谈、签约、开工、投产、部分投产、达产）")
    assert "、".join(STAGE_WORDS) in exc.message      # the list the template offers


def test_no_word_means_two_things():
    words = [w for ws in parse.STAGE_SYNONYMS.values() for w in ws]
    words += list(parse.PARTIAL_SYNONYMS)
    words += [w for s, ws in parse.STATUS_SYNONYMS.items() for w in ws]
    assert len(words) == len(set(words))


@pytest.mark.parametrize("word, status", [
    ("正常推进", ACTIVE), ("正常", ACTIVE), ("推进中", ACTIVE), ("在推进", ACTIVE),
    ("推进", ACTIVE), ("暂缓", ON_HOLD), ("暂停", ON_HOLD), ("搁置", ON_HOLD), ("停滞", ON_HOLD),
    ("终止", DROPPED), ("已终止", DROPPED), ("解约", DROPPED), ("取消", DROPPED),
    ("放弃", DROPPED), ("退出", DROPPED), ("已退出", DROPPED),
    (" 暂缓 ", ON_HOLD), ("active", ACTIVE), ("on_hold", ON_HOLD), ("Dropped", DROPPED),
    ("On hold", ON_HOLD),
])
def test_parse_status(word, status):
    assert parse_status(word) == status


def test_exported_status_labels_round_trip():
    for status, label in lifecycle.STATUS_LABELS.items():
        assert parse_status(str(label)) == status
    assert [parse_status(w) for w in STATUS_WORDS] == [ACTIVE, ON_HOLD, DROPPED]


@pytest.mark.parametrize("value", [None, "", " ", "/", "待定"])
def test_blank_status_is_not_given(value):
    assert parse_status(value) is None


@pytest.mark.parametrize("word", ["黄了", "签约", "暂缓中?"])
def test_unknown_status_words_are_refused(word):
    exc = error_of(parse_status, word)
    assert (exc.message, exc.params) == (
        "无法识别的项目状态「%(text)s」（可填：正常推进、暂缓、终止）", {"text": word})


def test_the_module_needs_no_app():
    """Parsing works outside any Flask app or request context."""
    from flask import has_app_context
    assert not has_app_context()
    assert parse_amount("1", "亿元").wan == Decimal("10000")


def test_remembered_parses_answer_as_the_first_time():
    """parse_date and parse_unit remember recent results: a value seen again gets the
    same answer, and a refused value is refused every time."""
    for _ in range(2):
        assert parse.parse_date(2022).value == PartialDate(date(2022, 1, 1), YEAR)
        assert parse.parse_date("2023.1").value == PartialDate(date(2023, 1, 1), MONTH)
        assert parse.parse_unit("亿元") == (CNY, Decimal(10000))
        for bad in (True, "2022-02-30", "黄了"):
            with pytest.raises(parse.CellError):
                parse.parse_date(bad)
        with pytest.raises(parse.CellError):
            parse.parse_unit("亿斤")


def test_clean_skips_only_text_that_needs_no_cleaning():
    """clean() tells text needing no cleaning by a plain test: for every character that
    cleaning acts on (whitespace, zero-width, the full-width block), at an edge, inside
    and between digits, it answers as the regular expressions alone do."""
    edge = re.compile(r"^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$")
    between_digits = re.compile(r"(?<=\d)[．－／：，](?=\d)")
    ascii_punct = {"．": ".", "－": "-", "／": "/", "：": ":", "，": ","}

    def full(text):
        text = edge.sub("", text).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        return between_digits.sub(lambda m: ascii_punct[m.group(0)], text) or None

    chars = [chr(c) for c in range(0x10000) if chr(c).isspace() or 0xff00 <= c <= 0xffef]
    for c in [*chars, "\u200b", "\ufeff", "a", "上", "1"]:
        for text in (c, f"{c}上海", f"上海{c}", f"上{c}海", f"1{c}2", f"{c}\u200b{c}x{c}\ufeff"):
            assert clean(text) == full(text), repr(text)


def test_remembered_amounts_answer_as_the_first_time():
    """parse_amount remembers the amounts of text and plain numbers: the same value
    and unit get the same answer, a refusal is refused every time, and equal Decimals
    written differently keep their own text."""
    for _ in range(2):
        assert parse_amount("约50", "亿元") == Amount(Decimal("500000.0000"), CNY, True, "约50")
        assert parse_amount("50", "万美元") == Amount(Decimal("50.0000"), USD, False, "50")
        assert parse_amount(12) == parse_amount(12.0) == Amount(
            Decimal("120000.0000"), CNY, False, "12")
        assert parse_amount(Decimal("1.0")).raw == "1.0"
        assert parse_amount(Decimal("1")).raw == "1"
        for bad in ("-5", "五十亿", True):
            with pytest.raises(CellError):
                parse_amount(bad)


def test_split_names_gives_each_caller_its_own_list():
    names = split_names("上海、苏州")
    names.append("韩国")
    assert split_names("上海、苏州") == ["上海", "苏州"]
