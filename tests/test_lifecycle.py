"""Unit tests for crm.lifecycle: partial dates, stage order and gates, corrections and
stalled-project rules (DESIGN.md §3). Pure functions: no app, no database.
"""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm import lifecycle as lc
from crm.lifecycle import (
    AT_CAPACITY, DAY, LEAD, MONTH, PRODUCING, SIGNED, STARTED, YEAR, PartialDate,
    check_advance, check_correction, check_milestone_order, compare, current_stage,
    is_future, missing_for_stage, parse_partial_date, stage_index, stage_on,
    stages_cleared_by_correction, stalled_level,
)

TODAY = date(2024, 5, 15)


def pd(text):
    """Shorthand: parse a typed date."""
    return parse_partial_date(text)


def fields(errors):
    """The field names of a list of RuleErrors, in order."""
    return [e.field for e in errors]


COMPLETE = {
    "company": "SK On",
    "investment": Decimal("27.5"),
    "industry": "动力电池",
    "regions": ["韩国"],
    "unit": "区中韩办",
}


# --- stage order -------------------------------------------------------------------

def test_stage_order():
    assert lc.STAGES == (LEAD, SIGNED, STARTED, PRODUCING, AT_CAPACITY)
    assert [stage_index(s) for s in lc.STAGES] == [0, 1, 2, 3, 4]


def test_every_stage_after_lead_has_a_milestone_field():
    assert lc.MILESTONE_FIELDS == {
        SIGNED: "signed_on", STARTED: "started_on",
        PRODUCING: "producing_on", AT_CAPACITY: "at_capacity_on",
    }
    assert LEAD not in lc.MILESTONE_FIELDS
    assert set(lc.MILESTONE_LABELS) == set(lc.MILESTONE_FIELDS)


def test_unknown_stage_index_raises():
    with pytest.raises(ValueError):
        stage_index("landed")


# --- parse_partial_date ------------------------------------------------------------

@pytest.mark.parametrize("text, value, precision, shown", [
    # day precision
    ("2022-03-11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022-3-11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022/3/11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022/03/11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022.3.11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022.03.11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022年3月11日", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022年03月11日", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2022年3月11", date(2022, 3, 11), DAY, "2022-03-11"),
    ("2024-02-29", date(2024, 2, 29), DAY, "2024-02-29"),
    ("2022-12-31", date(2022, 12, 31), DAY, "2022-12-31"),
    # month precision: stored as the 1st, shown as the month
    ("2022-03", date(2022, 3, 1), MONTH, "2022-03"),
    ("2022-3", date(2022, 3, 1), MONTH, "2022-03"),
    ("2022/3", date(2022, 3, 1), MONTH, "2022-03"),
    ("2022/12", date(2022, 12, 1), MONTH, "2022-12"),
    ("2022年3月", date(2022, 3, 1), MONTH, "2022-03"),
    ("2022年03月", date(2022, 3, 1), MONTH, "2022-03"),
    ("2022年3月份", date(2022, 3, 1), MONTH, "2022-03"),
    ("2023.6", date(2023, 6, 1), MONTH, "2023-06"),
    ("2023.1", date(2023, 1, 1), MONTH, "2023-01"),     # January, not October
    ("2023.01", date(2023, 1, 1), MONTH, "2023-01"),
    ("2023.10", date(2023, 10, 1), MONTH, "2023-10"),   # October
    ("2023.12", date(2023, 12, 1), MONTH, "2023-12"),
    # year precision
    ("2022", date(2022, 1, 1), YEAR, "2022"),
    ("2022年", date(2022, 1, 1), YEAR, "2022"),
    # surrounding whitespace is ignored
    ("  2022-03-11 ", date(2022, 3, 11), DAY, "2022-03-11"),
    ("\t2022年3月\n", date(2022, 3, 1), MONTH, "2022-03"),
])
def test_parse_accepted_formats(text, value, precision, shown):
    d = parse_partial_date(text)
    assert isinstance(d, PartialDate)
    assert d.value == value
    assert d.precision == precision
    assert str(d) == shown


@pytest.mark.parametrize("text", [None, "", " ", "   \t\n"])
def test_parse_blank_is_none(text):
    assert parse_partial_date(text) is None


@pytest.mark.parametrize("text", [
    "2022-02-30",       # impossible day
    "2023-02-29",       # not a leap year
    "2022-04-31",
    "2022年2月30日",
    "2022/2/30",
    "2022-13",          # no 13th month
    "2022-00",
    "2023.13",
    "2023.0",
    "2022年13月",
    "2022-03-00",
    "2022-03-32",
    "4月28日",          # no year
    "3月",
    "03-11",
    "11/3/2022",        # day first
    "22-03-11",         # two-digit year
    "202203",
    "20220311",
    "2022-03-11 10:00",
    "2022年3月上旬",
    "去年",
    "abc",
    "2022-03-",
    "-2022",
    "0999",             # outside the accepted year range
    "1899-12-31",
    "3000",
    "2022年3月11日号",
])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_partial_date(text)


def test_parse_keeps_month_precision_not_first_of_month():
    """A month is never silently turned into the 1st of the month (DESIGN.md §3)."""
    d = pd("2022年3月")
    assert d.precision == MONTH
    assert str(d) != "2022-03-01"
    assert d != pd("2022-03-01")


# --- PartialDate ---------------------------------------------------------------------

@pytest.mark.parametrize("given, precision, stored, shown", [
    (date(2022, 3, 15), DAY, date(2022, 3, 15), "2022-03-15"),
    (date(2022, 3, 15), MONTH, date(2022, 3, 1), "2022-03"),
    (date(2022, 3, 15), YEAR, date(2022, 1, 1), "2022"),
    (date(2022, 12, 31), MONTH, date(2022, 12, 1), "2022-12"),
    (date(2022, 12, 31), YEAR, date(2022, 1, 1), "2022"),
])
def test_partial_date_stores_first_day_of_period(given, precision, stored, shown):
    d = PartialDate(given, precision)
    assert d.value == stored
    assert d.start == stored
    assert str(d) == shown


def test_partial_date_default_precision_is_day():
    d = PartialDate(date(2022, 3, 11))
    assert d.precision == DAY
    assert str(d) == "2022-03-11"


@pytest.mark.parametrize("d, end", [
    (PartialDate(date(2022, 3, 11), DAY), date(2022, 3, 11)),
    (PartialDate(date(2022, 3, 1), MONTH), date(2022, 3, 31)),
    (PartialDate(date(2022, 4, 1), MONTH), date(2022, 4, 30)),
    (PartialDate(date(2023, 2, 1), MONTH), date(2023, 2, 28)),
    (PartialDate(date(2024, 2, 1), MONTH), date(2024, 2, 29)),
    (PartialDate(date(2022, 12, 1), MONTH), date(2022, 12, 31)),
    (PartialDate(date(2022, 1, 1), YEAR), date(2022, 12, 31)),
])
def test_partial_date_end(d, end):
    assert d.end == end
    assert d.start <= d.end


@pytest.mark.parametrize("precision", ["days", "quarter", "", None, "MONTH"])
def test_partial_date_rejects_unknown_precision(precision):
    with pytest.raises(ValueError):
        PartialDate(date(2022, 3, 1), precision)


def test_partial_date_equality_and_hash_follow_the_period():
    a = PartialDate(date(2022, 3, 15), MONTH)
    b = PartialDate(date(2022, 3, 1), MONTH)
    assert a == b
    assert hash(a) == hash(b)
    assert a != PartialDate(date(2022, 3, 1), DAY)
    assert a != PartialDate(date(2022, 1, 1), YEAR)


def test_partial_date_is_immutable():
    d = pd("2022-03")
    with pytest.raises(AttributeError):
        d.value = date(2023, 1, 1)


@pytest.mark.parametrize("text", [
    "2022-03-11", "2022-03", "2022", "2024-02-29", "1900-01-01", "2999-12",
])
def test_str_round_trips_through_parse(text):
    d = pd(text)
    assert pd(str(d)) == d


# --- compare -----------------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    ("2022-03-11", "2022-03-11", 0),
    ("2022-03-10", "2022-03-11", -1),
    ("2022-03-12", "2022-03-11", 1),
    ("2022-03", "2022-03-15", 0),      # the month contains the day: neither is earlier
    ("2022-03", "2022-03-01", 0),
    ("2022-03", "2022-03-31", 0),
    ("2022-02", "2022-03-01", -1),
    ("2022-04", "2022-03-31", 1),
    ("2022-03", "2022-03", 0),
    ("2022-02", "2022-03", -1),
    ("2022", "2022-12-31", 0),
    ("2022", "2022-01-01", 0),
    ("2022", "2022-07", 0),
    ("2021", "2022-01-01", -1),
    ("2023", "2022-12-31", 1),
    ("2022", "2023", -1),
    ("2022-12", "2023", -1),
    ("2023-01-01", "2022", 1),
])
def test_compare_at_coarser_precision(a, b, expected):
    assert compare(pd(a), pd(b)) == expected
    assert compare(pd(b), pd(a)) == -expected


# --- is_future -----------------------------------------------------------------------

@pytest.mark.parametrize("text, today, future", [
    ("2024-05-15", date(2024, 5, 15), False),   # today is fine
    ("2024-05-14", date(2024, 5, 15), False),
    ("2024-05-16", date(2024, 5, 15), True),
    ("2024-05", date(2024, 5, 15), False),      # this month is fine
    ("2024-05", date(2024, 5, 1), False),
    ("2024-05", date(2024, 5, 31), False),
    ("2024-06", date(2024, 5, 15), True),       # next month is not
    ("2024-06", date(2024, 5, 31), True),
    ("2024-06", date(2024, 6, 1), False),
    ("2024-04", date(2024, 5, 15), False),
    ("2024", date(2024, 1, 1), False),          # this year is fine
    ("2024", date(2024, 12, 31), False),
    ("2025", date(2024, 12, 31), True),         # next year is not
    ("2023", date(2024, 5, 15), False),
])
def test_is_future(text, today, future):
    assert is_future(pd(text), today) is future


# --- current_stage and stage_on ----------------------------------------------------------

@pytest.mark.parametrize("milestones, expected", [
    ({}, LEAD),
    ({SIGNED: None, STARTED: None}, LEAD),
    ({SIGNED: pd("2022-03-15")}, SIGNED),
    ({SIGNED: pd("2022-03-15"), STARTED: pd("2022-06")}, STARTED),
    ({SIGNED: pd("2022-03"), STARTED: pd("2022-06"), PRODUCING: pd("2023")}, PRODUCING),
    ({SIGNED: pd("2022"), STARTED: pd("2022"), PRODUCING: pd("2023"),
      AT_CAPACITY: pd("2024-02-10")}, AT_CAPACITY),
    ({SIGNED: pd("2022-03-15"), STARTED: None, PRODUCING: None}, SIGNED),
])
def test_current_stage(milestones, expected):
    assert current_stage(milestones) == expected


HISTORY = {
    SIGNED: pd("2022-03-15"),
    STARTED: pd("2022-06"),
    PRODUCING: pd("2023"),
    AT_CAPACITY: pd("2024-02-10"),
}


@pytest.mark.parametrize("day, expected", [
    (date(2021, 12, 31), LEAD),
    (date(2022, 3, 14), LEAD),
    (date(2022, 3, 15), SIGNED),          # the milestone day itself counts
    (date(2022, 5, 31), SIGNED),
    (date(2022, 6, 1), STARTED),          # month precision counts from the 1st
    (date(2022, 12, 31), STARTED),
    (date(2023, 1, 1), PRODUCING),        # year precision counts from 1 January
    (date(2024, 2, 9), PRODUCING),
    (date(2024, 2, 10), AT_CAPACITY),
    (date(2030, 1, 1), AT_CAPACITY),
])
def test_stage_on(day, expected):
    assert stage_on(HISTORY, day) == expected


def _month_ends(first: date, last: date):
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        yield nxt - timedelta(days=1)
        y, m = nxt.year, nxt.month


def test_stage_on_reproduces_monthly_history():
    """A report for any past month is recomputed from the milestone dates alone."""
    got = {(d.year, d.month): stage_on(HISTORY, d)
           for d in _month_ends(date(2022, 1, 1), date(2024, 3, 1))}
    expected = {}
    for (y, m) in got:
        if (y, m) < (2022, 3):
            expected[(y, m)] = LEAD
        elif (y, m) < (2022, 6):
            expected[(y, m)] = SIGNED
        elif y < 2023:
            expected[(y, m)] = STARTED
        elif (y, m) < (2024, 2):
            expected[(y, m)] = PRODUCING
        else:
            expected[(y, m)] = AT_CAPACITY
    assert got == expected


def test_stage_on_is_monotonic_and_ends_at_current_stage():
    day, previous = date(2021, 6, 1), -1
    while day <= date(2024, 12, 31):
        idx = stage_index(stage_on(HISTORY, day))
        assert idx >= previous, day
        previous = idx
        day += timedelta(days=1)
    assert stage_on(HISTORY, date(2100, 1, 1)) == current_stage(HISTORY)


def test_stage_on_signing_known_only_by_month_counts_in_that_month():
    m = {SIGNED: pd("2022年3月")}
    assert stage_on(m, date(2022, 2, 28)) == LEAD
    assert stage_on(m, date(2022, 3, 1)) == SIGNED
    assert stage_on(m, date(2022, 3, 31)) == SIGNED


def test_stage_on_with_a_gap_in_the_milestones():
    m = {SIGNED: pd("2022-03-15"), STARTED: None, PRODUCING: pd("2023-01-10")}
    assert stage_on(m, date(2022, 12, 31)) == SIGNED
    assert stage_on(m, date(2023, 1, 10)) == PRODUCING


def test_stage_on_empty_is_lead():
    assert stage_on({}, TODAY) == LEAD


# --- missing_for_stage -------------------------------------------------------------

@pytest.mark.parametrize("stage", [SIGNED, STARTED, PRODUCING, AT_CAPACITY])
def test_missing_for_stage_complete(stage):
    assert missing_for_stage(stage, COMPLETE) == []


def test_missing_for_stage_lead_needs_nothing():
    assert missing_for_stage(LEAD, {}) == []


@pytest.mark.parametrize("stage", [SIGNED, STARTED, PRODUCING, AT_CAPACITY])
def test_missing_for_stage_all_missing(stage):
    assert fields(missing_for_stage(stage, {})) == [
        "company", "investment", "industry", "regions", "unit"]


@pytest.mark.parametrize("name", ["company", "investment", "industry", "regions", "unit"])
@pytest.mark.parametrize("blank", [None, "", [], "absent"])
def test_missing_for_stage_names_the_blank_field(name, blank):
    values = dict(COMPLETE)
    if blank == "absent":
        del values[name]
    else:
        values[name] = blank
    errors = missing_for_stage(SIGNED, values)
    assert fields(errors) == [name]
    assert errors[0].params["field"] == lc.SIGNING_REQUIRED[name]


def test_missing_for_stage_accepts_several_regions():
    assert missing_for_stage(SIGNED, {**COMPLETE, "regions": ["上海", "韩国"]}) == []


# --- check_milestone_order -----------------------------------------------------------

@pytest.mark.parametrize("milestones", [
    {},
    {SIGNED: pd("2022-03-15")},
    {SIGNED: pd("2022-03-15"), STARTED: pd("2022-03-15")},      # same day is fine
    {SIGNED: pd("2022-03-15"), STARTED: pd("2022-03")},         # month containing signing
    {SIGNED: pd("2022-03"), STARTED: pd("2022-03-01")},
    {SIGNED: pd("2022-03-15"), STARTED: pd("2022")},
    {SIGNED: pd("2022"), STARTED: pd("2022-01-01")},
    {SIGNED: pd("2022-03-15"), STARTED: pd("2022-06"), PRODUCING: pd("2023"),
     AT_CAPACITY: pd("2024-05-15")},
    {SIGNED: pd("2024-05")},                                    # this month
    {SIGNED: pd("2024")},                                       # this year
    {SIGNED: pd("2022-03-15"), STARTED: None, PRODUCING: pd("2023-01")},
])
def test_check_milestone_order_ok(milestones):
    assert check_milestone_order(milestones, TODAY) == []


@pytest.mark.parametrize("milestones, expected", [
    ({SIGNED: pd("2022-03-15"), STARTED: pd("2022-02")}, ["started_on"]),
    ({SIGNED: pd("2022-03-15"), STARTED: pd("2022-03-14")}, ["started_on"]),
    ({SIGNED: pd("2022-03"), STARTED: pd("2022-02-28")}, ["started_on"]),
    ({SIGNED: pd("2022"), STARTED: pd("2021-12-31")}, ["started_on"]),
    ({SIGNED: pd("2022-03-15"), STARTED: pd("2022-06"), PRODUCING: pd("2022-05")},
     ["producing_on"]),
    # a missing middle milestone: the check is against the last one given
    ({SIGNED: pd("2022-05"), STARTED: None, PRODUCING: pd("2022-03")}, ["producing_on"]),
    ({SIGNED: pd("2024-05-16")}, ["signed_on"]),                 # tomorrow
    ({SIGNED: pd("2024-06")}, ["signed_on"]),                    # next month
    ({SIGNED: pd("2025")}, ["signed_on"]),                       # next year
    ({SIGNED: pd("2024-01-01"), AT_CAPACITY: pd("2024-06")}, ["at_capacity_on"]),
    # a future signing and a start before it: one error each
    ({SIGNED: pd("2024-07-01"), STARTED: pd("2024-05")}, ["signed_on", "started_on"]),
    # a start both in the future and before the signing: two errors on the field
    ({SIGNED: pd("2024-07-01"), STARTED: pd("2024-06")},
     ["signed_on", "started_on", "started_on"]),
])
def test_check_milestone_order_errors(milestones, expected):
    assert fields(check_milestone_order(milestones, TODAY)) == expected


def test_check_milestone_order_message_shows_other_date_as_written():
    errors = check_milestone_order({SIGNED: pd("2022-03"), STARTED: pd("2022-02-10")}, TODAY)
    assert len(errors) == 1
    assert errors[0].params["date"] == "2022-03"
    assert errors[0].params["other"] == lc.MILESTONE_LABELS[SIGNED]
    assert errors[0].params["field"] == lc.MILESTONE_LABELS[STARTED]


def test_check_milestone_order_checks_against_every_earlier_milestone():
    milestones = {
        SIGNED: pd("2022-03-15"),
        STARTED: pd("2022"),            # compatible with both neighbours
        PRODUCING: pd("2022-01-10"),    # but definitely before the signing
    }
    assert "producing_on" in fields(check_milestone_order(milestones, TODAY))


# --- check_advance -------------------------------------------------------------------

def test_advance_lead_to_signed_ok():
    assert check_advance(LEAD, SIGNED, {}, {SIGNED: pd("2024-05-15")}, COMPLETE, TODAY) == []


@pytest.mark.parametrize("current, target, passed", [
    (LEAD, SIGNED, [SIGNED]),
    (LEAD, STARTED, [SIGNED, STARTED]),
    (LEAD, PRODUCING, [SIGNED, STARTED, PRODUCING]),
    (LEAD, AT_CAPACITY, [SIGNED, STARTED, PRODUCING, AT_CAPACITY]),
    (SIGNED, STARTED, [STARTED]),
    (SIGNED, AT_CAPACITY, [STARTED, PRODUCING, AT_CAPACITY]),
    (STARTED, PRODUCING, [PRODUCING]),
    (PRODUCING, AT_CAPACITY, [AT_CAPACITY]),
])
def test_advance_requires_every_passed_milestone(current, target, passed):
    existing = {s: pd("2021-01-10") for s in lc.STAGES[1:stage_index(current) + 1]}
    all_dates = {s: pd("2022-03-15") for s in passed}
    assert check_advance(current, target, existing, all_dates, COMPLETE, TODAY) == []
    assert fields(check_advance(current, target, existing, {}, COMPLETE, TODAY)) == [
        lc.MILESTONE_FIELDS[s] for s in passed]
    for s in passed:   # leave out one date at a time: exactly that field is named
        partial = {k: v for k, v in all_dates.items() if k != s}
        assert fields(check_advance(current, target, existing, partial, COMPLETE, TODAY)) == [
            lc.MILESTONE_FIELDS[s]]


def test_advance_lead_to_started_needs_both_dates():
    errors = check_advance(LEAD, STARTED, {}, {}, COMPLETE, TODAY)
    assert fields(errors) == ["signed_on", "started_on"]
    errors = check_advance(LEAD, STARTED, {}, {STARTED: pd("2023-01")}, COMPLETE, TODAY)
    assert fields(errors) == ["signed_on"]
    errors = check_advance(LEAD, STARTED, {}, {SIGNED: pd("2023-01")}, COMPLETE, TODAY)
    assert fields(errors) == ["started_on"]
    assert check_advance(LEAD, STARTED, {}, {SIGNED: pd("2022-03-15"),
                                             STARTED: pd("2023-01")}, COMPLETE, TODAY) == []


def test_advance_refuses_dates_of_stages_beyond_the_target():
    # A typed date is never dropped silently: it belongs to a later move.
    errors = check_advance(LEAD, SIGNED, {}, {SIGNED: pd("2022-03"),
                                              STARTED: pd("2022-05")}, COMPLETE, TODAY)
    assert fields(errors) == ["started_on"]
    assert check_advance(LEAD, SIGNED, {}, {SIGNED: pd("2022-03")}, COMPLETE, TODAY) == []


@pytest.mark.parametrize("current, target", [
    (LEAD, LEAD), (SIGNED, SIGNED), (AT_CAPACITY, AT_CAPACITY),
    (SIGNED, LEAD), (STARTED, SIGNED), (AT_CAPACITY, LEAD), (PRODUCING, STARTED),
])
def test_advance_refuses_same_or_earlier_stage(current, target):
    errors = check_advance(current, target, {}, {SIGNED: pd("2022-03")}, COMPLETE, TODAY)
    assert fields(errors) == ["stage"]


@pytest.mark.parametrize("target", ["", "landed", "Signed", None])
def test_advance_refuses_unknown_stage(target):
    assert fields(check_advance(LEAD, target, {}, {}, COMPLETE, TODAY)) == ["stage"]


@pytest.mark.parametrize("new, ok", [
    ("2022-03", True),         # month containing the signing day: allowed
    ("2022", True),
    ("2022-03-15", True),
    ("2022-03-16", True),
    ("2022-03-14", False),
    ("2022-02", False),        # a month before the signing: refused
    ("2021", False),
])
def test_advance_start_not_before_signing(new, ok):
    errors = check_advance(SIGNED, STARTED, {SIGNED: pd("2022-03-15")},
                           {STARTED: pd(new)}, COMPLETE, TODAY)
    assert fields(errors) == ([] if ok else ["started_on"])


@pytest.mark.parametrize("new, ok", [
    ("2024-05-15", True),
    ("2024-05", True),         # this month is fine
    ("2024", True),
    ("2024-05-16", False),
    ("2024-06", False),        # next month is not
    ("2025", False),
])
def test_advance_no_future_dates(new, ok):
    errors = check_advance(LEAD, SIGNED, {}, {SIGNED: pd(new)}, COMPLETE, TODAY)
    assert fields(errors) == ([] if ok else ["signed_on"])


def test_advance_checks_order_among_the_new_dates():
    errors = check_advance(LEAD, PRODUCING, {}, {
        SIGNED: pd("2022-03-15"), STARTED: pd("2022-06"), PRODUCING: pd("2022-05-31"),
    }, COMPLETE, TODAY)
    assert fields(errors) == ["producing_on"]


def test_advance_missing_industry_is_named():
    values = {**COMPLETE, "industry": ""}
    errors = check_advance(LEAD, SIGNED, {}, {SIGNED: pd("2022-03-15")}, values, TODAY)
    assert fields(errors) == ["industry"]


@pytest.mark.parametrize("target", [SIGNED, STARTED, PRODUCING, AT_CAPACITY])
def test_advance_to_any_signed_stage_needs_signing_fields(target):
    dates = {s: pd("2022-03-15") for s in lc.STAGES[1:stage_index(target) + 1]}
    errors = check_advance(LEAD, target, {}, dates, {}, TODAY)
    assert fields(errors) == ["company", "investment", "industry", "regions", "unit"]


def test_advance_from_signed_still_checks_signing_fields():
    values = {**COMPLETE, "regions": []}
    errors = check_advance(SIGNED, STARTED, {SIGNED: pd("2022-03")},
                           {STARTED: pd("2022-06")}, values, TODAY)
    assert fields(errors) == ["regions"]


def test_advance_reports_dates_and_fields_together():
    errors = check_advance(LEAD, STARTED, {}, {STARTED: pd("2030-01")},
                           {**COMPLETE, "unit": None}, TODAY)
    assert fields(errors) == ["signed_on", "started_on", "unit"]


# --- check_correction and stages_cleared_by_correction ---------------------------------

@pytest.mark.parametrize("current, target", [
    (SIGNED, LEAD), (STARTED, LEAD), (STARTED, SIGNED), (AT_CAPACITY, LEAD),
    (AT_CAPACITY, PRODUCING), (PRODUCING, SIGNED),
])
def test_correction_to_earlier_stage_with_reason_ok(current, target):
    assert check_correction(current, target, "签约时间录错") == []


@pytest.mark.parametrize("current, target", [
    (LEAD, LEAD), (SIGNED, SIGNED), (SIGNED, STARTED), (LEAD, AT_CAPACITY),
    (PRODUCING, AT_CAPACITY),
])
def test_correction_refuses_same_or_later_stage(current, target):
    assert fields(check_correction(current, target, "原因")) == ["stage"]


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_correction_requires_reason(reason):
    assert fields(check_correction(STARTED, SIGNED, reason)) == ["reason"]


def test_correction_reports_stage_and_reason_together():
    assert fields(check_correction(SIGNED, STARTED, "")) == ["stage", "reason"]


@pytest.mark.parametrize("target", ["", "landed", None])
def test_correction_refuses_unknown_stage(target):
    assert fields(check_correction(STARTED, target, "原因")) == ["stage"]


@pytest.mark.parametrize("target, cleared", [
    (LEAD, [SIGNED, STARTED, PRODUCING, AT_CAPACITY]),
    (SIGNED, [STARTED, PRODUCING, AT_CAPACITY]),
    (STARTED, [PRODUCING, AT_CAPACITY]),
    (PRODUCING, [AT_CAPACITY]),
    (AT_CAPACITY, []),
])
def test_stages_cleared_by_correction(target, cleared):
    assert stages_cleared_by_correction(target) == cleared


def test_correction_leaves_target_as_current_stage():
    """After clearing, the milestones imply exactly the corrected stage."""
    for target in lc.STAGES:
        kept = {s: d for s, d in HISTORY.items()
                if s not in stages_cleared_by_correction(target)}
        assert current_stage(kept) == target


# --- stalled_level -------------------------------------------------------------------

def _ago(days):
    return TODAY - timedelta(days=days)


@pytest.mark.parametrize("stage, yellow, red", [
    (SIGNED, 90, 180),
    (STARTED, 365, 540),
    (PRODUCING, 365, 730),
])
@pytest.mark.parametrize("offset, expect", [
    ("y-1", None), ("y", "yellow"), ("y+1", "yellow"),
    ("r-1", "yellow"), ("r", "red"), ("r+1", "red"), ("0", None), ("r*3", "red"),
])
def test_stalled_thresholds_for_milestone_stages(stage, yellow, red, offset, expect):
    days = {"y-1": yellow - 1, "y": yellow, "y+1": yellow + 1, "r-1": red - 1,
            "r": red, "r+1": red + 1, "0": 0, "r*3": red * 3}[offset]
    assert stalled_level(stage, lc.ACTIVE, _ago(days), None, TODAY) == expect


@pytest.mark.parametrize("days, expect", [
    (0, None), (59, None), (60, "yellow"), (61, "yellow"), (89, "yellow"),
    (90, "red"), (180, "red"), (400, "red"),
])
def test_stalled_lead_uses_last_activity(days, expect):
    assert stalled_level(LEAD, lc.ACTIVE, None, _ago(days), TODAY) == expect


def test_stalled_lead_ignores_stage_since():
    assert stalled_level(LEAD, lc.ACTIVE, _ago(1000), _ago(10), TODAY) is None


def test_stalled_signed_ignores_recent_visits():
    """Signed-not-started counts from the signing, however often it is visited."""
    assert stalled_level(SIGNED, lc.ACTIVE, _ago(200), _ago(1), TODAY) == "red"


def test_stalled_defaults_match_design():
    assert lc.DEFAULT_STALLED_THRESHOLDS == {
        SIGNED: (90, 180), STARTED: (365, 540), PRODUCING: (365, 730), LEAD: (60, 90)}
    assert lc.LEAD_PROPOSE_DROP_DAYS == 180


@pytest.mark.parametrize("status", [lc.ON_HOLD, lc.DROPPED])
@pytest.mark.parametrize("stage", [LEAD, SIGNED, STARTED, PRODUCING])
def test_stalled_only_active_projects(status, stage):
    assert stalled_level(stage, status, _ago(5000), _ago(5000), TODAY) is None


@pytest.mark.parametrize("days", [0, 365, 730, 5000])
def test_at_capacity_never_stalled(days):
    assert stalled_level(AT_CAPACITY, lc.ACTIVE, _ago(days), _ago(days), TODAY) is None


@pytest.mark.parametrize("stage", [SIGNED, STARTED, PRODUCING])
def test_stalled_without_a_since_date_is_none(stage):
    assert stalled_level(stage, lc.ACTIVE, None, _ago(5000), TODAY) is None


def test_stalled_lead_without_activity_date_is_none():
    assert stalled_level(LEAD, lc.ACTIVE, _ago(5000), None, TODAY) is None


@pytest.mark.parametrize("stage", [LEAD, SIGNED, STARTED, PRODUCING])
def test_stalled_since_in_the_future_is_none(stage):
    since = TODAY + timedelta(days=30)
    assert stalled_level(stage, lc.ACTIVE, since, since, TODAY) is None


@pytest.mark.parametrize("days, expect", [(29, None), (30, "yellow"), (44, "yellow"),
                                          (45, "red")])
def test_stalled_custom_thresholds(days, expect):
    thresholds = {**lc.DEFAULT_STALLED_THRESHOLDS, SIGNED: (30, 45)}
    assert stalled_level(SIGNED, lc.ACTIVE, _ago(days), None, TODAY, thresholds) == expect


def test_stalled_counts_month_precision_signing_from_its_start():
    signed = pd("2024-02")      # 2024-02-01 + 90 days = 2024-05-01 (leap year)
    assert stalled_level(SIGNED, lc.ACTIVE, signed.start, None, date(2024, 4, 30)) is None
    assert stalled_level(SIGNED, lc.ACTIVE, signed.start, None, date(2024, 5, 1)) == "yellow"
