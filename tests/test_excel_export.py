"""The ledger export (台账导出): the list's filters and order in the bureau's column
format, typed values, formula-like text kept literal, the Chinese file name, no caching,
and a query count that does not grow with the rows."""
import re
import zipfile
from datetime import date
from decimal import Decimal
from io import BytesIO
from urllib.parse import unquote

from openpyxl import load_workbook

from crm import lifecycle
from crm.excel.columns import HEADERS, LEDGER_COLUMNS
from crm.extensions import db
from crm.lifecycle import MONTH, YEAR, PartialDate
from crm.models import USD, CoordinationIssue
from crm.projects.services import advance_stage, set_status
from crm.reference.queries import industries_stmt, units_stmt
from tests.conftest import statement_count

COL = {c.key: i for i, c in enumerate(LEDGER_COLUMNS)}
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def from_cell_text(value: str) -> str:
    """Text as typed, from its stored text as openpyxl reads it: the _xHHHH_ escapes
    (of control characters, and of text that looks like one) undone, as calamine, the
    import's reader, does itself."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)


def _sheet(response):
    """The exported workbook's rows (values), header first."""
    assert response.status_code == 200, response.status_code
    wb = load_workbook(BytesIO(response.data))
    ws = wb["项目台账"]
    return ws, [list(r) for r in ws.iter_rows(values_only=True)]


def _by_code(rows):
    return {r[COL["code"]]: r for r in rows[1:]}


def test_the_export_writes_every_column_as_the_ledger_does(as_role, factory, users):
    """Header in the ledger's order; amounts as numbers in 亿元 / 万美元; stage and status
    words; day dates as date cells, month and year ones as "2022-03" / "2022"; region
    tags joined by 、; open coordination issues; the sheet frozen and filtered."""
    cny = factory.project("恒源光伏", regions=["上海", "苏州"], investment_amount=Decimal("125000"),
                          notes="重点项目")
    advance_stage(cny, lifecycle.PRODUCING, {
        lifecycle.SIGNED: PartialDate(date(2022, 3, 1), MONTH),
        lifecycle.STARTED: PartialDate(date(2022, 8, 2)),
        lifecycle.PRODUCING: PartialDate(date(2023, 1, 1), YEAR)}, users["admin"], None,
        partial_production=True)
    usd = factory.project("韩华电池", regions=["韩国"], investment_amount=Decimal("9800"),
                          investment_currency=USD)
    lead = factory.project("待定项目", signing_ready=False)
    set_status(lead, lifecycle.ON_HOLD, "资金调整", PartialDate(date(2026, 1, 2)),
               users["admin"], None)
    db.session.add(CoordinationIssue(project_id=usd.id, description="用地指标",
                                     raised_on=date(2026, 1, 5)))
    db.session.add(CoordinationIssue(project_id=usd.id, description="已解决", closed_on=date(
        2026, 2, 1), raised_on=date(2026, 1, 6)))
    db.session.commit()

    ws, rows = _sheet(as_role("leader").get("/ledger/export?sort=code"))
    assert tuple(rows[0]) == HEADERS
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:T{len(rows)}"
    got = _by_code(rows)
    a, b, c = got[cny.code], got[usd.code], got[lead.code]
    assert [r[COL["serial"]] for r in rows[1:]] == list(range(1, len(rows)))
    assert (a[COL["name"]], a[COL["company"]], a[COL["regions"]]) == (
        "恒源光伏", "恒源光伏投资方", "上海、苏州")
    assert (a[COL["amount"]], a[COL["amount_unit"]]) == (12.5, "亿元")
    assert (b[COL["amount"]], b[COL["amount_unit"]]) == (9800, "万美元")
    assert (c[COL["amount"]], c[COL["amount_unit"]]) == (None, None)
    assert (a[COL["stage"]], a[COL["status"]]) == ("部分投产", "正常推进")
    assert (c[COL["stage"]], c[COL["status"]]) == ("在谈", "暂缓")
    assert a[COL["signed_on"]] == "2022-03" and a[COL["producing_on"]] == "2023"
    assert a[COL["started_on"]].date() == date(2022, 8, 2)
    assert ws.cell(row=rows.index(a) + 1, column=COL["started_on"] + 1).number_format \
        == "yyyy-mm-dd"
    assert a[COL["at_capacity_on"]] is None
    assert (a[COL["unit"]], a[COL["notes"]]) == ("光伏产业园", "重点项目")
    assert b[COL["issues"]] == "用地指标"      # the closed one left out


def test_the_export_follows_the_list_filters_and_order(as_role, factory):
    """The same filters as the list (here a unit and a stage word) and its sort."""
    factory.project("乙项目")
    factory.project("甲项目")
    factory.project("丙项目", unit="区中韩办")
    leader = as_role("leader")
    unit = factory.unit("光伏产业园").id
    _, rows = _sheet(leader.get(f"/ledger/export?unit={unit}&sort=name"))
    assert [r[COL["name"]] for r in rows[1:]] == sorted(["乙项目", "甲项目"])
    listed = leader.get(f"/projects/?unit={unit}").get_data(as_text=True)
    assert "共 2 个" in listed and 'id="export-ledger"' in listed


def test_text_that_looks_like_a_formula_stays_text(as_role, factory):
    """User text starting with = + - @, tab or CR (a CSV/Excel injection) is written as
    a string cell: no <f> element anywhere in the sheet, and it reads back unchanged
    (CR, which XML would turn into LF, and text that looks like Excel's own _xHHHH_
    escape, are escaped as Excel does)."""
    payloads = ["=HYPERLINK(\"http://x.test\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)",
                "\t=1", "\r=2", "a\r\nb", "_x0041_ 字面", "#N/A", "<r>字面</r>"]
    for i, text in enumerate(payloads):
        factory.project(f"项目{i}", notes=text, content=text)
    response = as_role("leader").get("/ledger/export?sort=code")
    with zipfile.ZipFile(BytesIO(response.data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    _, rows = _sheet(response)
    for key in ("notes", "content"):
        assert sorted(from_cell_text(r[COL[key]]) for r in rows[1:]) == sorted(payloads)


def test_the_download_has_its_chinese_name_and_is_not_cached(as_role, factory):
    """Content-Disposition names the file in Chinese (RFC 6266 filename*), the type is
    xlsx and the response is never cached."""
    factory.project()
    response = as_role("officer").get("/ledger/export")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("项目台账-")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype.endswith("spreadsheetml.sheet")


def test_the_export_query_count_does_not_grow_with_rows(as_role, factory):
    """Eager loads declared in the query: 3 projects and 12 cost the same statements."""
    leader = as_role("leader")
    for i in range(3):
        factory.project(f"项目{i}", regions=["上海", "韩国"])
    few = statement_count(leader, "/ledger/export")
    for i in range(3, 12):
        factory.project(f"项目{i}", regions=["苏州"])
    assert statement_count(leader, "/ledger/export") == few


def test_the_cli_exports_every_project(app, factory, tmp_path):
    """``flask ledger export FILE`` writes all projects, by code."""
    made = [factory.project(f"项目{i}") for i in range(3)]
    out = tmp_path / "台账.xlsx"
    result = app.test_cli_runner().invoke(args=["ledger", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 3 projects" in result.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert [r[COL["code"]] for r in rows[1:]] == sorted(p.code for p in made)


def test_the_template_offers_the_columns_lists_and_instructions(as_role, app, factory,
                                                                tmp_path):
    """The empty ledger: the ledger's header row (frozen); drop-down lists for 产业类别,
    金额单位, 项目阶段, 项目状态 and 责任单位 over 2,000 rows, holding the active units and
    industries from the database (on a hidden 选项 sheet); a 填写说明 row per column. The
    download and ``flask ledger template FILE`` give the same workbook."""
    response = as_role("officer").get("/ledger/template")
    assert response.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    out = tmp_path / "模板.xlsx"
    result = app.test_cli_runner().invoke(args=["ledger", "template", str(out)])
    assert result.exit_code == 0, result.output
    for source in (BytesIO(response.data), out):
        wb = load_workbook(source)
        ws = wb["项目台账"]
        assert tuple(c.value for c in ws[1]) == HEADERS and ws.freeze_panes == "A2"
        assert ws.max_row == 1
        assert wb["选项"].sheet_state == "hidden"
        options = {col[0].value: [c.value for c in col[1:] if c.value]
                   for col in wb["选项"].iter_cols()}
        lists = {}
        for rule in ws.data_validations.dataValidation:
            first = str(rule.sqref).split(":")[0]
            header = ws[first[:-1] + "1"].value
            column = rule.formula1.split("!")[1].split("$")[1]
            lists[header] = options[wb["选项"][column + "1"].value]
            assert str(rule.sqref).endswith("2001")
        units = [u.name for u in db.session.scalars(units_stmt())]
        industries = [i.name for i in db.session.scalars(industries_stmt())]
        assert lists == {"产业类别": industries, "金额单位": ["亿元", "万美元"],
                         "项目阶段": ["在谈", "签约", "开工", "投产", "部分投产", "达产"],
                         "项目状态": ["正常推进", "暂缓", "终止"], "责任单位": units}
        guide = list(wb["填写说明"].iter_rows(values_only=True))
        assert [r[0] for r in guide[1:]] == list(HEADERS)
        assert all(r[1] for r in guide[1:] if r[0] in ("项目名称", "总投资", "签约时间"))


def test_any_text_is_written_as_the_text_it_is():
    """Every character below U+0250 in any position, formula-like and error-like words,
    text that looks like an _xHHHH_ escape or like XlsxWriter's own rich-text XML: each
    is a string cell (no <f> element), and reads back as typed with calamine (what the
    import reads with) and with openpyxl (after undoing the stored escapes)."""
    from python_calamine import CalamineWorkbook

    from crm.excel.writer import Book, Sheet
    texts = ["上海", "_x0041_", "a_x00zz_", "=1", "#N/A", "#REF!", "a=b", "x#", "\t=1",
             "-1", "+1", "@A", "1\n2", "_x", "__x0041_", "a_X0041_", "<r>x</r>",
             "<r><t>x</t></r>", "<r>", "a</r>", "<b>&amp;</b>"]
    texts += [f"{head}{chr(c)}{tail}" for c in range(1, 0x250) for head, tail in
              (("", ""), ("项目", ""), ("", "尾"), ("a", "b"))]
    out = BytesIO()
    book = Book(out)
    sheet = Sheet(book, "t", (10,))
    for text in texts:
        sheet.add([text])
    book.close()
    with zipfile.ZipFile(BytesIO(out.getvalue())) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    read = CalamineWorkbook.from_filelike(BytesIO(out.getvalue())).get_sheet_by_index(0)
    assert [row[0] for row in read.to_python()] == texts
    ws = load_workbook(BytesIO(out.getvalue()))["t"]
    assert [from_cell_text(str(row[0])) for row in ws.iter_rows(values_only=True)] == texts
