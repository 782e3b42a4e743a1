"""The ledger import (台账导入): hand-made ledgers with a title, a two-row merged header,
merged data cells, group and subtotal rows; every parsed value; every error with its
row and column; all-or-nothing and --skip-invalid; re-import and export → import
changing nothing; the archive and XML checks; the command line."""
import io
import json
import time
import tracemalloc
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from crm import lifecycle
from crm.dashboard.cube import rebuild
from crm.excel import importer, reader
from crm.excel.columns import HEADERS, LEDGER_COLUMNS
from crm.extensions import db
from crm.lifecycle import DAY, MONTH, YEAR, PartialDate
from crm.models import (CNY, USD, Change, CoordinationIssue, ImportJob, PipelineCell, Project,
                        Region, StageChange)
from crm.projects.services import advance_stage, set_status

TODAY = date(2026, 11, 20)
COL = {c.key: i for i, c in enumerate(LEDGER_COLUMNS)}


def xlsx(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def messy_ledger(extra_rows=()) -> bytes:
    """A ledger as a bureau keeps it by hand: a merged title and 填报单位 line, a two-row
    header (项目名称 merged down; 时间节点 over 签约/开工/投产/达产), a unit merged down
    over two projects, group headings, a subtotal and a footnote."""
    wb = Workbook()
    ws = wb.active
    ws.title = "2024年台账"
    ws.append(["XX开发区2024年招商引资项目台账"])
    ws.merge_cells("A1:N1")
    ws.append(["填报单位：区招商局", None, None, None, None, None, "截止日期：2024年6月30日"])
    ws.append(["序号", "项目名称", "投资主体", "投资来源", "产业", "总投资（亿元）", "项目进展",
               "时间节点", None, None, None, "牵头单位", "存在问题", "备注"])
    ws.append([None] * 7 + ["签约", "开工", "投产", "达产"] + [None] * 3)
    for col in "ABCDEFGLMN":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("H3:K3")
    ws.append(["一、光伏产业"])                                               # row 5
    ws.merge_cells("A5:N5")
    ws.append([1, "恒源12GW光伏组件", "恒源新能源有限公司", "上海、苏州", "光伏", "约50亿元",
               "在建", datetime(2023, 3, 11), "2023.6", None, None, "光伏产业园", "用电指标",
               "重点项目"])                                                  # row 6
    ws.append([2, "晶澳电池片", "晶澳太阳能", "深圳", "光伏", 12.5, "已签约", "2022年8月",
               None, None, None, None, None, None])                          # row 7
    ws.merge_cells("L6:L7")          # one unit for both projects
    ws.append([3, "ＳＫ电池　", "SK新能源", "韩国", "动力电池及储能", "3亿美元", "部分投产",
               44631, "2022/05/08", "2023年", None, "区中韩办", None, None])   # row 8
    ws.append(["小计", None, None, None, None, 65.5])                         # row 9
    ws.append(["二、汽车产业"])                                               # row 10
    ws.append([4, "汽车零部件项目", "某汽车公司", "日本", "汽车及零部件", "/", "洽谈中", None,
               None, None, None, "区经发局", None, None])                    # row 11
    ws.append([5, "储能电站", "某储能公司", "南京；杭州", "动力电池及储能", "9800万美元",
               "竣工投产", "2019/05/08", "2020-01", "2021年8月2日", None, "区经发局", None,
               None])                                                        # row 12
    ws.append([6, "无年份项目", "某公司2", "上海", "新材料", "待定", "跟踪洽谈", "4月28日", None,
               None, None, "区经发局", None, None])                          # row 13
    for row in extra_rows:
        ws.append(row)
    ws.append(["合计"])
    ws.append(["注：金额单位为亿元"])
    return xlsx(wb)


def by_name(name):
    return db.session.scalar(sa.select(Project).where(Project.name == name))


def counts():
    """Rows in every table an import writes."""
    return {m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Project, Change, StageChange, CoordinationIssue, Region)}


def cells():
    """The dashboard's non-empty running totals."""
    t = PipelineCell.__table__
    return sorted(tuple(r) for r in db.session.execute(sa.select(*t.c)) if r.n or r.cny or r.usd)


def commit(data, user=None, **kw):
    result = importer.commit(data, user, "test.xlsx", today=TODAY, **kw)
    db.session.commit()
    return result


def test_a_hand_made_ledger_is_read_value_by_value(app):
    """Header found below the title; the two-row header's sub-columns; the merged unit
    applied to both rows it spans; headings, subtotal and footnote skipped with reasons;
    an exact duplicate merged; every amount, date and stage form parsed."""
    result = importer.preview(messy_ledger(), None, today=TODAY)
    assert result.errors == [] and result.all_errors == []
    assert result.sheet == "2024年台账"
    keys = {c.letter: c.key for c in result.columns}
    assert keys["H"] == "signed_on" and keys["K"] == "at_capacity_on"
    assert keys["F"] == "amount" and result.columns[5].unit == "亿元"
    assert [(s.number, s.reason) for s in result.skipped] == [
        (5, "分组标题行"), (9, "合计行"), (10, "分组标题行"), (14, "合计行"), (15, "注释行")]
    assert [(r.row, r.action) for r in result.rows] == [
        (6, "create"), (7, "create"), (8, "create"), (11, "create"), (12, "create"),
        (13, "create")]
    warnings = [str(w) for w in result.all_warnings]
    assert warnings == [
        "第 13 行 H 列「时间节点/签约」：日期「4月28日」缺少年份，未导入，原文记入备注"]

    commit(messy_ledger())
    hy = by_name("恒源12GW光伏组件")
    assert (hy.investment_amount, hy.investment_currency) == (Decimal("500000"), CNY)
    assert "总投资：约50亿元" in hy.notes and hy.notes.startswith("重点项目")
    assert [r.name for r in hy.regions] == ["上海", "苏州"]
    assert hy.stage == lifecycle.STARTED and hy.unit.name == "光伏产业园"
    assert hy.milestone(lifecycle.SIGNED) == PartialDate(date(2023, 3, 11), DAY)
    assert hy.milestone(lifecycle.STARTED) == PartialDate(date(2023, 6, 1), MONTH)
    assert [i.description for i in db.session.scalars(sa.select(CoordinationIssue).where(
        CoordinationIssue.project_id == hy.id))] == ["用电指标"]
    ja = by_name("晶澳电池片")
    assert ja.unit.name == "光伏产业园"            # from the merged cell above
    assert ja.investment_amount == Decimal("125000") and ja.stage == lifecycle.SIGNED
    assert ja.milestone(lifecycle.SIGNED) == PartialDate(date(2022, 8, 1), MONTH)
    sk = by_name("ＳＫ电池")                    # the full-width space trimmed
    assert (sk.investment_amount, sk.investment_currency) == (Decimal("30000"), USD)
    assert sk.stage == lifecycle.PRODUCING and sk.partial_production
    assert sk.milestone(lifecycle.SIGNED) == PartialDate(date(2022, 3, 11))   # serial
    assert sk.milestone(lifecycle.STARTED) == PartialDate(date(2022, 5, 8))
    assert sk.milestone(lifecycle.PRODUCING) == PartialDate(date(2023, 1, 1), YEAR)
    lead = by_name("汽车零部件项目")
    assert lead.stage == lifecycle.LEAD and lead.investment_amount is None   # "/" unknown
    es = by_name("储能电站")
    assert [r.name for r in es.regions] == ["南京", "杭州"]
    assert (es.investment_amount, es.investment_currency) == (Decimal("9800"), USD)
    assert es.milestone(lifecycle.PRODUCING) == PartialDate(date(2021, 8, 2))
    ny = by_name("无年份项目")
    assert ny.stage == lifecycle.LEAD and ny.signed_on is None
    assert "签约时间：4月28日" in ny.notes and ny.investment_amount is None
    # The stage moves are in the stage history, with the import as their note.
    moves = db.session.scalars(sa.select(StageChange).where(
        StageChange.project_id == sk.id).order_by(StageChange.id)).all()
    assert [(m.from_stage, m.to_stage, m.note) for m in moves] == [
        ("lead", "signed", "台账导入 test.xlsx"), ("signed", "started", "台账导入 test.xlsx"),
        ("started", "producing", "台账导入 test.xlsx")]
    assert {c.source for c in db.session.scalars(sa.select(Change))} == {"台账导入 test.xlsx"}


BAD_ROWS = [
    # row 14 onwards (after the six rows of messy_ledger)
    [7, "黄了的项目", "某公司3", "上海", "光伏", "-5", "黄了", "2022-02-30", None, None, None,
     "区经发局", None, None],
    [8, "未来项目", "某公司4", "上海", "光伏", "abc", "开工", "2022-03", "2099-01-01", None,
     None, "区经发局", None, None],
    [9, "次序颠倒", "某公司5", "上海", "光伏", 3, "开工", "2023-05", "2022-01", None, None,
     "区经发局", None, None],
    [10, "阶段不符", "某公司6", "上海", "光伏", 3, "签约", "2023-05", None, "2024", None,
     "区经发局", None, None],
    [11, "名" * 201, "某公司7", None, None, None, "在谈", None, None, None, None, "区经发局",
     None, None],
    [12, "缺少签约要素", None, "火星", "光伏", 3, "签约", "2023", None, None, None, "区经发局",
     None, None],
    [13, "恒源12GW光伏组件", "恒源新能源有限公司", "上海", "光伏", 60, "在建",
     datetime(2023, 3, 11), "2023.6", None, None, "光伏产业园", None, None],
]


def test_every_bad_row_is_named_by_row_column_and_message(app):
    """Negative and non-numeric amounts, impossible and future dates, dates out of order
    or beyond the stage, an unknown stage word, a name over 200 characters (never cut),
    a missing signing field, an unknown region, a conflicting duplicate row."""
    result = importer.preview(messy_ledger(BAD_ROWS), None, today=TODAY)
    errors = [str(e) for e in result.all_errors]
    assert errors == [
        "第 14 行 F 列「总投资（亿元）」：金额不能为负数",
        "第 14 行 G 列「项目进展」：无法识别的项目阶段「黄了」"
        "（可填：在谈、签约、开工、投产、部分投产、达产）",
        "第 14 行 H 列「时间节点/签约」：日期 2022-02-30 不存在",
        "第 15 行 F 列「总投资（亿元）」：无法识别的金额「abc」",
        "第 15 行 I 列「时间节点/开工」：开工时间：不能晚于今天",
        "第 16 行 I 列「时间节点/开工」：开工时间：不能早于签约时间（2023-05）",
        "第 17 行 J 列「时间节点/投产」：投产时间：项目阶段为签约，不能填写此后阶段的时间",
        "第 18 行 B 列「项目名称」：项目名称：不能超过 200 字（现有 201 字）",
        "第 19 行 D 列「投资来源」：来源地「火星」不在系统列表中；确认新增后才能导入",
        "第 19 行 C 列「投资主体」：投资方：签约及以后阶段的项目必须填写",
        "第 20 行 B 列「项目名称」：与第 6 行是同一项目，但内容不同",
    ]
    assert [(r.row, r.action) for r in result.rows][6:] == [
        (14, "invalid"), (15, "invalid"), (16, "invalid"), (17, "invalid"), (18, "invalid"),
        (19, "invalid"), (20, "invalid")]
    assert result.new_names == {"regions": ["火星"]}
    assert json.loads(json.dumps(result.summary()))["errors"][0] == {
        "row": 14, "column": "F", "header": "总投资（亿元）", "message": "金额不能为负数"}


def test_commit_is_all_or_nothing_unless_told_to_skip_invalid_rows(app):
    rebuild(db.session.connection())
    db.session.commit()
    before, before_cells = counts(), cells()
    data = messy_ledger(BAD_ROWS)
    with pytest.raises(importer.ImportRefused) as refused:
        importer.commit(data, None, "test.xlsx", today=TODAY)
    db.session.rollback()
    assert len(refused.value.result.all_errors) == 11
    assert counts() == before and cells() == before_cells

    result = commit(data, skip_invalid=True)
    assert (result.count("create"), len(result.all_errors)) == (6, 11)
    assert counts()["Project"] == before["Project"] + 6
    assert by_name("黄了的项目") is None and by_name("次序颠倒") is None
    # The running totals moved with the projects (the same as a rebuild).
    kept = cells()
    rebuild(db.session.connection())
    assert cells() == kept


def test_importing_the_same_file_again_changes_nothing(app):
    commit(messy_ledger())
    before = counts()
    again = commit(messy_ledger())
    assert (again.count("create"), again.count("update"), again.count("unchanged")) == (0, 0, 6)
    assert counts() == before


def test_new_regions_and_units_are_created_only_when_confirmed(app, users):
    rows = [[7, "越南项目", "越南公司", "越南", "光伏", 3, "签约", "2023", None, None, None,
             "新设园区", None, None]]
    data = messy_ledger(rows)
    result = importer.preview(data, users["admin"], today=TODAY)
    assert result.new_names == {"regions": ["越南"], "unit": ["新设园区"]}
    assert result.rows[-1].action == "invalid"
    officer = importer.preview(data, users["officer"], confirm_new=True, today=TODAY)
    assert "只有管理员可以新增来源地、产业类别和责任单位" in [str(e) for e in officer.errors]
    commit(data, users["admin"], confirm_new=True)
    p = by_name("越南项目")
    assert [r.name for r in p.regions] == ["越南"] and p.unit.name == "新设园区"
    # A new name beside known ones in one cell.
    rows[0][1:4] = ["老挝项目", "老挝公司", "上海、老挝"]
    result = importer.preview(messy_ledger(rows), users["admin"], today=TODAY)
    assert result.new_names == {"regions": ["老挝"]}
    assert ("来源地", "", "老挝、上海") in result.rows[-1].changes


def test_an_update_shows_and_records_each_field(app, factory, users):
    """A changed amount, a stage moved forward with its date and a refined date: the
    preview lists each change as the history will record it, the commit records them."""
    p = factory.project("恒源12GW光伏组件", company_name="恒源新能源有限公司",
                        regions=["上海", "苏州"], investment_amount=Decimal("400000"))
    advance_stage(p, lifecycle.SIGNED, {lifecycle.SIGNED: PartialDate(date(2023, 3, 1), MONTH)},
                  users["admin"], None)
    db.session.commit()
    result = importer.preview(messy_ledger(), users["officer"], today=TODAY)
    row = result.rows[0]
    assert row.action == "update" and row.code == p.code
    assert row.changes == [
        ("总投资", "40 亿元", "50 亿元"), ("备注", "", "重点项目；总投资：约50亿元"),
        ("签约时间", "2023-03", "2023-03-11"), ("项目阶段", "签约", "开工（2023-06）"),
        ("需协调事项", "", "用电指标")]
    commit(messy_ledger(), users["officer"], skip_invalid=True)    # rows of other units left
    db.session.refresh(p)
    assert (p.stage, p.investment_amount) == (lifecycle.STARTED, Decimal("500000"))
    history = {(c.field, c.old_value, c.new_value) for c in db.session.scalars(
        sa.select(Change).where(Change.project_id == p.id, Change.source != ""))}
    assert {("investment", "40 亿元", "50 亿元"), ("signed_on", "2023-03", "2023-03-11"),
            ("issue", "", "用电指标")} <= history


def test_an_import_never_moves_a_project_back_or_rewrites_a_date_for_an_officer(
        app, factory, users):
    p = factory.project("恒源12GW光伏组件", company_name="恒源新能源有限公司",
                        regions=["上海", "苏州"])
    advance_stage(p, lifecycle.PRODUCING, {
        lifecycle.SIGNED: PartialDate(date(2022, 3, 11)),
        lifecycle.STARTED: PartialDate(date(2023, 6, 1), MONTH),
        lifecycle.PRODUCING: PartialDate(date(2024, 1, 1))}, users["admin"], None)
    db.session.commit()
    errors = [str(e) for e in importer.preview(messy_ledger(), users["officer"],
                                               today=TODAY).rows[0].errors]
    assert errors == [
        "第 6 行 G 列「项目进展」：项目阶段：系统中已是投产，台账为开工；"
        "退回阶段请在项目页面由管理员更正",
        "第 6 行 H 列「时间节点/签约」：签约时间：系统中为 2022-03-11，"
        "修改已有的时间须由管理员导入或更正"]


def test_officers_import_only_their_own_units_projects(app, users):
    result = importer.preview(messy_ledger(), users["officer"], today=TODAY)
    mine = {r.row: r.action for r in result.rows}
    assert mine[6] == "create" and mine[7] == "create"      # 光伏产业园
    assert [str(e) for e in result.rows[2].errors] == [
        "第 8 行 L 列「牵头单位」：责任单位：只能导入本单位的项目"]


def test_export_then_import_changes_nothing(app, factory, users, as_role):
    """Tricky text (formula-like, CR, _x000D_ literally, tab), partial production, month
    and year dates, USD, a paused project, issues holding the separator: all unchanged."""
    a = factory.project("=1+1", company_name="+86 公司", notes="a\rb _x000D_ c\td",
                        content="@SUM(A1)", regions=["上海", "苏州"])
    advance_stage(a, lifecycle.PRODUCING, {
        lifecycle.SIGNED: PartialDate(date(2022, 3, 1), MONTH),
        lifecycle.STARTED: PartialDate(date(2022, 8, 2)),
        lifecycle.PRODUCING: PartialDate(date(2023, 1, 1), YEAR)}, users["admin"], None,
        partial_production=True)
    b = factory.project("-减号项目", investment_amount=Decimal("9800.5"), investment_currency=USD,
                        regions=["韩国"], industry="动力电池及储能", unit="区中韩办")
    set_status(b, lifecycle.ON_HOLD, "资金调整", PartialDate(date(2026, 1, 2)), users["admin"],
               None)
    db.session.add(CoordinationIssue(project_id=b.id, description="用地；用电",
                                     raised_on=date(2026, 1, 5)))
    factory.project("仅有名称", signing_ready=False, unit=None)
    db.session.commit()
    before = counts()
    data = as_role("leader").get("/ledger/export").data
    result = importer.preview(data, users["admin"], today=TODAY)
    assert [(r.action, r.changes) for r in result.rows] == [("unchanged", [])] * 3
    assert result.all_warnings == [] and result.all_errors == []
    commit(data, users["admin"])
    assert counts() == before


def test_long_texts_are_refused_as_the_form_refuses_them(app):
    """建设内容 and 备注 over the form's 2,000 characters (with what the import adds to
    备注, too) and an issue over 2,000 are the row's errors, never cut; 2,000 is fine."""
    long_rows = [
        [7, "备注过长", "某公司3", "上海", "光伏", 3, "在谈", None, None, None, None, "区经发局",
         None, "备" * 2001],
        [8, "备注连同约数过长", "某公司4", "上海", "光伏", "约3亿元", "在谈", None, None, None,
         None, "区经发局", None, "备" * 1995],
        [9, "问题过长", "某公司5", "上海", "光伏", 3, "在谈", None, None, None, None, "区经发局",
         "短问题；" + "问" * 2001, None],
        [10, "刚好两千字", "某公司6", "上海", "光伏", 3, "在谈", None, None, None, None,
         "区经发局", "问" * 2000, "备" * 2000],
    ]
    result = importer.preview(messy_ledger(long_rows), None, today=TODAY)
    assert [str(e) for e in result.all_errors] == [
        "第 14 行 N 列「备注」：备注：不能超过 2000 字（现有 2001 字）",
        "第 15 行 N 列「备注」：备注：连同导入时记入的说明超过 2000 字，请精简",
        "第 16 行 M 列「存在问题」：存在问题：每项问题不能超过 2000 字（多项用“；”分隔）",
    ]
    assert [r.action for r in result.rows][6:] == ["invalid"] * 3 + ["create"]

    wb = Workbook()
    wb.active.append(list(HEADERS))
    row = [None] * len(HEADERS)
    row[COL["name"]], row[COL["content"]] = "建设内容过长", "内" * 2001
    wb.active.append(row)
    result = importer.preview(xlsx(wb), None, today=TODAY)
    assert [str(e) for e in result.all_errors] == [
        "第 2 行 I 列「建设内容」：建设内容：不能超过 2000 字（现有 2001 字）"]


def test_an_export_holds_whole_issues_and_old_long_texts_come_back_unchanged(
        app, factory, users, as_role):
    """Open issues longer together than an Excel cell: the 存在问题 cell holds the
    oldest that fit, whole (a cut one would come back as a new issue); a 建设内容 over
    today's limit, kept from before it, is not an error while it is unchanged."""
    p = factory.project("问题很多的项目")
    p.content = "内" * 2500         # stored before the limit (not through the form)
    texts = [f"{i:02d}" + "问" * 1898 for i in range(20)]
    db.session.add_all(CoordinationIssue(project_id=p.id, description=t,
                                         raised_on=date(2026, 1, 1 + i))
                       for i, t in enumerate(texts))
    db.session.commit()
    before = counts()
    data = as_role("leader").get("/ledger/export").data
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("存在问题") + 1).value == "；".join(texts[:17])
    assert ws.cell(2, header.index("建设内容") + 1).value == "内" * 2500
    result = importer.preview(data, users["admin"], today=TODAY)
    assert [(r.action, r.changes) for r in result.rows] == [("unchanged", [])]
    assert result.all_errors == []
    commit(data, users["admin"])
    assert counts() == before


def test_codes_taken_meanwhile_are_numbered_past_not_a_failed_import(
        app, factory, monkeypatch):
    """A project saved by someone else after the import read the year's last code
    (PostgreSQL lets that happen; SQLite's writers take turns) takes the code the
    import would give next: the batch is inserted again, numbered after it."""
    from crm.projects import services
    taken = factory.project("期间新建的项目")
    taken.code = f"P{TODAY.year}-0001"
    db.session.commit()
    real, reads = services._next_code_number, []

    def read_before_it(year):      # the first read does not see it yet
        reads.append(year)
        prefix, number = real(year)
        return prefix, number - (len(reads) == 1)
    monkeypatch.setattr(services, "_next_code_number", read_before_it)
    rebuild(db.session.connection())
    db.session.commit()
    before = counts()
    result = commit(messy_ledger())
    assert result.count("create") == 6 and len(reads) == 2
    codes = sorted(db.session.scalars(sa.select(Project.code)))
    assert codes == [f"P{TODAY.year}-{n:04d}" for n in range(1, 8)]
    assert counts()["Project"] == before["Project"] + 6
    assert db.session.get(Project, taken.id).name == "期间新建的项目"
    kept = cells()
    rebuild(db.session.connection())
    assert cells() == kept


def test_a_previews_parsed_rows_are_given_back_after_a_while(app, monkeypatch):
    """The rows a preview parsed are held for its commit only for a while (a worker's
    memory); a commit after that reads the file again."""
    monkeypatch.setattr(importer, "KEEP_PARSED_SECONDS", 0.05)
    importer.preview(messy_ledger(), None, today=TODAY)
    assert importer._last_parsed is not None and importer._last_checked is not None
    deadline = time.monotonic() + 10
    while importer._last_parsed is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert importer._last_parsed is None and importer._last_checked is None
    assert commit(messy_ledger()).count("create") == 6


def test_headings_and_subtotals_are_told_from_projects(app):
    """Group headings numbered, in the serial column or alone; subtotals in the first
    columns; but a project whose name starts like a numeral (一汽), ends in 项目, or
    whose investor's name begins with 小计, is data."""
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "项目名称", "投资方"])
    ws.append([None, "（一）新能源"])                # 2 heading
    ws.append(["二", "汽车产业"])                    # 3 heading
    ws.append([None, "电子信息产业"])                # 4 heading
    ws.append([1, "一汽解放配套项目", None])          # 5 data
    ws.append([2, "恒源光伏项目"])                   # 6 data (only a name)
    ws.append([3, "储能电站", "小计科技有限公司"])     # 7 data
    ws.append(["小计"])                            # 8 subtotal
    result = importer.preview(xlsx(wb), None, today=TODAY)
    assert [(s.number, s.reason) for s in result.skipped] == [
        (2, "分组标题行"), (3, "分组标题行"), (4, "分组标题行"), (8, "合计行")]
    assert [r.name for r in result.rows] == ["一汽解放配套项目", "恒源光伏项目", "储能电站"]


def test_a_formula_cell_is_read_as_its_text(app):
    wb = Workbook()
    ws = wb.active
    ws.append(["项目名称", "投资方", "总投资"])
    ws.append(["=A1&B1", "公司", "=1+2"])
    result = importer.preview(xlsx(wb), None, today=TODAY)
    assert result.rows[0].name == "=A1&B1"
    assert [str(e) for e in result.all_errors] == ["第 2 行 C 列「总投资」：无法识别的金额「=1+2」"]


def rewrite_part(data: bytes, part: str, change) -> bytes:
    """The workbook with one XML part passed through ``change`` (bytes → bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item, change(body) if item.filename == part else body)
    return out.getvalue()


def test_shared_formulas_and_error_cells_are_read_as_typed(app):
    """A formula Excel shares down a column is read, in each row, as that row's formula
    (never its cached result); an error value (#N/A) as its code."""
    wb = Workbook()
    ws = wb.active
    ws.append(["项目名称", "投资方", "总投资", "建设内容"])
    ws.append(["甲项目", "公司", "=A2*1", "#N/A"])
    ws.append(["乙项目", "公司", "=A3*1", "正常"])

    def share(xml: bytes) -> bytes:
        assert xml.count(b"<v />") == 2
        xml = xml.replace(b"<f>A2*1</f><v />", b'<f t="shared" ref="C2:C3" si="0">A2*1</f>'
                                               b"<v>7</v>")
        return xml.replace(b"<f>A3*1</f><v />", b'<f t="shared" si="0"/><v>8</v>')
    data = rewrite_part(xlsx(wb), "xl/worksheets/sheet1.xml", share)
    result = importer.preview(data, None, today=TODAY)
    assert [str(e) for e in result.all_errors] == [
        "第 2 行 C 列「总投资」：无法识别的金额「=A2*1」",
        "第 3 行 C 列「总投资」：无法识别的金额「=A3*1」"]
    assert result.rows[0].data.content == "#N/A"


def test_the_template_filled_in_imports(app, as_role):
    """Our template: its hidden 选项 sheet and its 填写说明 sheet are not ledgers."""
    wb = openpyxl.load_workbook(io.BytesIO(as_role("admin").get("/ledger/template").data))
    ws = wb.worksheets[0]
    values = dict.fromkeys(HEADERS)
    values.update({"项目名称": "模板项目", "投资方": "模板公司", "来源地": "上海",
                   "产业类别": "光伏",
                   "总投资": 2, "金额单位": "万美元", "项目阶段": "签约", "签约时间": "2024-05",
                   "责任单位": "光伏产业园"})
    ws.append(list(values.values()))
    result = commit(xlsx(wb))
    assert result.count("create") == 1 and result.sheets == [ws.title]
    p = by_name("模板项目")
    assert (p.investment_amount, p.investment_currency, p.stage) == (
        Decimal("2"), USD, lifecycle.SIGNED)


def test_several_ledger_sheets_ask_which_one(app):
    wb = Workbook()
    for title in ("一季度", "二季度"):
        ws = wb.create_sheet(title)
        ws.append(["项目名称", "投资方"])
        ws.append([f"{title}项目", "公司"])
    hidden = wb.create_sheet("旧表")
    hidden.append(["项目名称", "投资方"])
    hidden.sheet_state = "hidden"
    del wb["Sheet"]
    data = xlsx(wb)
    result = importer.preview(data, None, today=TODAY)
    assert [str(e) for e in result.errors] == [
        "工作簿中有多个工作表含有台账（一季度、二季度），请选择要导入的工作表"]
    chosen = importer.preview(data, None, sheet="二季度", today=TODAY)
    assert [r.name for r in chosen.rows] == ["二季度项目"]


def test_amounts_in_two_currency_columns_and_units_in_the_header(app):
    wb = Workbook()
    ws = wb.active
    ws.append(["项目名称", "总投资（万元）", None, "计划总投资(万元)"])
    ws.append([None, "人民币", "外资", None])
    ws.merge_cells("A1:A2")
    ws.merge_cells("B1:C1")
    ws.merge_cells("D1:D2")
    ws.append(["甲", 30000, None, None])
    ws.append(["乙", None, 800, None])
    ws.append(["丙", 1, 100, None])
    result = importer.preview(xlsx(wb), None, today=TODAY)
    assert [(c.letter, c.key, c.unit) for c in result.columns] == [
        ("A", "name", None), ("B", "amount", "万元"), ("C", "amount", "万美元"),
        ("D", "amount", "万元")]
    assert [r.data.investment_amount for r in result.rows[:2]] == [Decimal("30000"),
                                                                   Decimal("800")]
    assert [r.data.investment_currency for r in result.rows[:2]] == [CNY, USD]
    assert [str(e) for e in result.all_errors] == [
        "第 5 行 C 列「总投资（万元）/外资」：总投资：一行只能填写一个金额"]


@pytest.mark.parametrize("data, message", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "旧版 Excel（.xls）"),
    ("项目名称,投资方\n甲,乙\n".encode(), "文本（CSV）文件"),
    (bytes(range(256)) * 8, "不是有效的 Excel 工作簿"),
    (b"PK\x03\x04 broken", "可能已损坏"),
    (b"x" * (10 * 1024 * 1024 + 1), "文件超过 10 MB"),
])
def test_files_that_are_not_workbooks_get_a_clear_message(app, data, message):
    result = importer.preview(data, None, today=TODAY)
    assert len(result.errors) == 1 and message in str(result.errors[0])
    assert result.rows == []


def test_a_zip_bomb_is_refused_at_once_without_memory_growth(app):
    """A 1 GB entry of zeros packs to about 1 MB: refused from the zip's directory, before
    anything is unpacked."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            block = bytes(1024 * 1024)
            for _ in range(1024):
                entry.write(block)
    data = out.getvalue()
    assert len(data) < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.perf_counter()
    result = importer.preview(data, None, today=TODAY)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "疑似压缩炸弹" in str(result.errors[0])
    assert elapsed < 1.0 and peak < 20 * 1024 * 1024


def test_a_workbook_larger_than_50_mb_unpacked_is_refused(app, monkeypatch):
    monkeypatch.setattr(reader, "MAX_UNCOMPRESSED", 1000)
    result = importer.preview(messy_ledger(), None, today=TODAY)
    assert "文件解压后超过 50 MB" in str(result.errors[0])


def test_an_xml_entity_bomb_fails_safely(app):
    """A workbook whose sheet declares entities ("billion laughs") is refused before
    anything parses it, never expanded (and defusedxml guards the XML read in Python)."""
    assert openpyxl.xml.DEFUSEDXML is True
    doctype = ('<!DOCTYPE worksheet [<!ENTITY lol0 "lol">'
               + "".join(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(1, 10))
               + "]>")
    data = rewrite_part(messy_ledger(), "xl/worksheets/sheet1.xml",
                        lambda body: doctype.encode() + body.replace(b"<v>", b"<v>&lol9;", 1))
    result = importer.preview(data, None, today=TODAY)
    assert [str(e) for e in result.errors] == ["文件含有不安全的 XML 内容（实体声明），已拒绝"]


def test_more_than_the_row_limit_is_refused(app, monkeypatch):
    monkeypatch.setattr(reader, "MAX_DATA_ROWS", 5)
    result = importer.preview(messy_ledger(), None, today=TODAY)
    assert [str(e) for e in result.errors] == ["数据超过 5 行，请拆分后分批导入"]


def test_no_header_is_a_clear_error(app):
    wb = Workbook()
    wb.active.append(["随便", "什么"])
    result = importer.preview(xlsx(wb), None, today=TODAY)
    assert [str(e) for e in result.errors] == ["未找到台账表头：前 20 行中没有「项目名称」列"]


def test_the_command_line_dry_run_json_and_exit_codes(app, tmp_path):
    path = tmp_path / "台账.xlsx"
    path.write_bytes(messy_ledger(BAD_ROWS[:1]))
    runner = app.test_cli_runner()
    before = counts()
    out = runner.invoke(args=["ledger", "import", str(path), "--dry-run", "--json"])
    assert out.exit_code == 1
    summary = json.loads(out.output)
    assert (summary["created"], summary["skipped"], len(summary["errors"])) == (6, 5, 3)
    assert counts() == before
    out = runner.invoke(args=["ledger", "import", str(path)])
    assert out.exit_code == 1 and "未导入任何数据" in out.output
    assert counts() == before
    out = runner.invoke(args=["ledger", "import", str(path), "--skip-invalid", "--json"])
    assert out.exit_code == 1 and json.loads(out.output)["created"] == 6
    assert counts()["Project"] == before["Project"] + 6
    path.write_bytes(messy_ledger())
    out = runner.invoke(args=["ledger", "import", str(path), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "created": 0, "updated": 0, "unchanged": 6, "skipped": 5, "errors": [],
        "warnings": [{"row": 13, "column": "H", "header": "时间节点/签约",
                      "message": "日期「4月28日」缺少年份，未导入，原文记入备注"}]}


# ---------------------------------------------------------------------------- the web


def _upload(client, data, name="台账.xlsx"):
    response = client.post("/ledger/import", data={"file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def test_upload_preview_and_commit_on_the_web(app, as_role):
    """The upload returns at once with a job; the job page shows the preview (counts,
    each error with its place) and commits only on confirmation."""
    from crm.excel import jobs
    client = as_role("admin")
    before = counts()
    job_url = _upload(client, messy_ledger(BAD_ROWS[:1]))
    assert client.get(job_url + "/progress").json["state"] in ("checking", "ready")
    jobs.wait()
    page = client.get(job_url).get_data(as_text=True)
    assert 'data-count="created">6<' in page and 'data-count="errors">3<' in page
    assert "第 14 行 F 列「总投资（亿元）」：金额不能为负数" in page
    assert "第 5 行：分组标题行 一、光伏产业" in page
    # The choice of mode: a group of Bootstrap radios, not WTForms' bulleted list.
    assert '<fieldset id="mode">' in page and '<ul id="mode"' not in page
    assert page.count('class="form-check-input" id="mode-') == 2
    assert counts() == before                      # the preview wrote nothing
    # All or nothing: refused, the preview shown again, nothing written.
    client.post(job_url + "/commit", data={"mode": "all"})
    jobs.wait()
    assert client.get(job_url + "/progress").json["state"] == "ready"
    assert counts() == before
    client.post(job_url + "/commit", data={"mode": "skip"})
    jobs.wait()
    statements = []
    record = lambda *args: statements.append(args[2])          # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = client.get(job_url).get_data(as_text=True)
        assert client.get(job_url + "/progress").json["state"] == "done"
        assert "已导入" in client.get("/ledger/import").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    # The pages and polls load the job without its file.
    assert statements and not [s for s in statements if "AS import_job_data" in s]
    assert "导入完成：新建 6 个、更新 0 个项目。" in page
    assert "有错误的 1 行未导入（见下）。" in page and "以下行有错误，未导入" in page
    db.session.rollback()
    assert counts()["Project"] == before["Project"] + 6
    assert by_name("恒源12GW光伏组件").code in page
    # Imported: the file is not kept.
    assert db.session.scalar(sa.select(ImportJob.data)) == b""


def test_a_sheet_is_chosen_and_new_names_confirmed_on_the_web(app, as_role):
    from crm.excel import jobs
    client = as_role("admin")
    wb = Workbook()
    for title, region in (("一季度", "越南"), ("二季度", "上海")):
        ws = wb.create_sheet(title)
        ws.append(["项目名称", "投资方", "来源地"])
        ws.append([f"{title}项目", "公司", region])
    del wb["Sheet"]
    job_url = _upload(client, xlsx(wb))
    jobs.wait()
    page = client.get(job_url).get_data(as_text=True)
    assert "请选择要导入的工作表" in page and 'id="recheck-form"' in page
    client.post(job_url + "/check", data={"sheet": "一季度"})
    jobs.wait()
    page = client.get(job_url).get_data(as_text=True)
    assert "来源地：越南" in page and "确认新增后才能导入" in page
    client.post(job_url + "/check", data={"sheet": "一季度", "confirm_new": "y"})
    jobs.wait()
    client.post(job_url + "/commit", data={"mode": "all"})
    jobs.wait()
    db.session.rollback()
    assert [r.name for r in by_name("一季度项目").regions] == ["越南"]


def test_a_job_whose_worker_died_shows_failed_and_starts_again(app, as_role, users):
    from crm.excel import jobs
    from crm.models import ImportJob
    job = jobs.create_job(users["admin"], "台账.xlsx", messy_ledger())
    job.worker = f"{jobs.socket.gethostname()}:999999999"      # no such process
    db.session.commit()
    client = as_role("admin")
    page = client.get(f"/ledger/import/{job.id}").get_data(as_text=True)
    assert 'data-state="failed"' in page and "重新开始" in page
    assert client.get(f"/ledger/import/{job.id}/progress").json["state"] == "failed"
    assert jobs.fail_stale_jobs() == 1
    db.session.commit()
    assert db.session.get(ImportJob, job.id).state == "failed"
    client.post(f"/ledger/import/{job.id}/check", data={})
    jobs.wait()
    db.session.rollback()
    assert db.session.get(ImportJob, job.id).state == "ready"


def test_files_left_unimported_for_30_days_are_deleted(app, as_role, users):
    """Each upload deletes the files no job will read again: a done job's, and those of
    jobs left checked or failed for 30 days (which then say so and offer a new upload
    instead of starting again); a job checked 29 days ago keeps its file."""
    from datetime import timedelta

    from crm.clock import utcnow
    from crm.excel import jobs
    data = messy_ledger()
    made = {}
    for name, state, days in (("old_ready", "ready", 31), ("old_failed", "failed", 40),
                              ("recent", "ready", 29), ("done", "done", 1)):
        job = jobs.create_job(users["admin"], f"{name}.xlsx", data)
        job.state, job.updated_at = state, utcnow() - timedelta(days=days)
        made[name] = job.id
    db.session.commit()
    client = as_role("admin")
    _upload(client, data)
    jobs.wait()
    db.session.rollback()
    stored = dict(db.session.execute(sa.select(ImportJob.id, ImportJob.data)).all())
    assert [bool(stored[made[n]]) for n in made] == [False, False, True, False]
    job = db.session.get(ImportJob, made["old_ready"])
    assert (job.state, job.message) == ("failed", jobs.EXPIRED)
    assert db.session.get(ImportJob, made["done"]).state == "done"
    page = client.get(f"/ledger/import/{job.id}").get_data(as_text=True)
    assert "上传的文件超过 30 天未导入，已删除。请重新上传。" in page
    assert "重新上传" in page and "重新开始" not in page
    response = client.post(f"/ledger/import/{job.id}/check", data={})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/ledger/import")
    assert db.session.get(ImportJob, made["recent"]).state == "ready"


def test_a_crashing_job_is_marked_failed_with_nothing_written(app, as_role, monkeypatch):
    from crm.excel import jobs

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importer, "preview", crash)
    client = as_role("admin")
    before = counts()
    job_url = _upload(client, messy_ledger())
    jobs.wait()
    page = client.get(job_url).get_data(as_text=True)
    assert "导入出错，没有写入任何数据" in page and "boom" not in page
    assert counts() == before


def test_an_upload_over_the_limits_gets_a_friendly_page(app, as_role):
    from crm.excel import jobs
    client = as_role("admin")
    job_url = _upload(client, b"PK\x03\x04" + bytes(10 * 1024 * 1024))
    jobs.wait()
    assert "文件超过 10 MB" in client.get(job_url).get_data(as_text=True)
    response = client.post("/ledger/import", data={
        "file": (io.BytesIO(bytes(21 * 1024 * 1024)), "big.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 413 and "文件过大" in response.get_data(as_text=True)


def test_an_officers_new_rows_without_a_unit_are_their_units(app, users):
    wb = Workbook()
    ws = wb.active
    ws.append(["项目名称", "责任单位"])
    ws.append(["无单位项目", None])
    commit(xlsx(wb), users["officer"])
    assert by_name("无单位项目").unit.name == "光伏产业园"


def _rename(model, old, new):
    db.session.scalar(sa.select(model).where(model.name == old)).name = new


# What may change in the database between a preview and its commit (each committed by
# "someone else"), and the row-6 action the commit then plans.
MEANWHILE = {
    "nothing": (lambda f, users: None, "create"),
    "a project of the same name and investor created": (
        lambda f, users: f.project("恒源12GW光伏组件", company_name="恒源新能源有限公司",
                                   regions=["上海", "苏州"]), "update"),
    "a region renamed": (lambda f, users: _rename(Region, "苏州", "苏州市"), "invalid"),
    "the importing officer moved to another unit": (
        lambda f, users: setattr(users["officer"], "unit", f.unit("区经发局")), "invalid"),
}


@pytest.mark.parametrize("change", MEANWHILE)
def test_a_commit_takes_its_previews_plans_only_while_what_they_read_is_unchanged(
        app, factory, users, monkeypatch, change):
    """The commit checks the rows again: when the database still holds what the preview
    read (matches, reference lists, users, investors, the matched projects), the
    preview's plans are taken as they are; any change to it plans every row again."""
    make_change, action = MEANWHILE[change]
    officer = users["officer"]
    preview = importer.preview(messy_ledger(), officer, today=TODAY)
    assert preview.rows[0].action == "create"
    make_change(factory, users)
    db.session.commit()
    planned = []
    real_plan_row = importer._plan_row
    monkeypatch.setattr(importer, "_plan_row",
                        lambda plan, *a: planned.append(plan.row) or real_plan_row(plan, *a))
    result = commit(messy_ledger(), officer, skip_invalid=True)
    assert result.rows[0].action == action
    if change == "nothing":
        assert planned == [] and result.rows is preview.rows
        assert by_name("恒源12GW光伏组件").code == result.rows[0].code
    else:
        assert planned == [6, 7, 8, 11, 12, 13]


def test_a_commit_after_an_update_of_a_matched_project_plans_it_again(
        app, factory, users, monkeypatch):
    """Someone edits a project the ledger updates after the preview: the commit compares
    the ledger with the project as it is now, and records that change."""
    p = factory.project("恒源12GW光伏组件", company_name="恒源新能源有限公司",
                        regions=["上海", "苏州"], investment_amount=Decimal("500000"))
    preview = importer.preview(messy_ledger(), users["admin"], today=TODAY)
    assert ("总投资", "40 亿元", "50 亿元") not in preview.rows[0].changes
    p.investment_amount = Decimal("400000")
    db.session.commit()
    result = commit(messy_ledger(), users["admin"], skip_invalid=True)
    assert ("总投资", "40 亿元", "50 亿元") in result.rows[0].changes
    db.session.refresh(p)
    assert p.investment_amount == Decimal("500000")


def test_a_rule_the_check_missed_refuses_the_whole_import(app, monkeypatch):
    """Defence in depth: a service refusing a row while writing leaves nothing written
    and says why, instead of failing with a server error."""
    from crm.errors import RulesBroken
    from crm.lifecycle import RuleError

    def refuse(*args, **kwargs):
        raise RulesBroken([RuleError("unit_id", "%(field)s：无效的选择", {"field": "责任单位"})])

    monkeypatch.setattr(importer, "create_projects", refuse)
    before = counts()
    with pytest.raises(importer.ImportRefused) as refused:
        importer.commit(messy_ledger(), None, "test.xlsx", today=TODAY)
    db.session.rollback()
    assert [str(e) for e in refused.value.result.errors] == [
        "导入时未通过检查：责任单位：无效的选择"]
    assert counts() == before


def test_a_save_committed_while_the_import_checks_does_not_fail_it(
        app, as_role, database_url, monkeypatch):
    """The commit checks the ledger again before writing. Another user's save committed
    meanwhile must not fail the import: on SQLite a transaction that has read and then
    writes after another writer's commit fails ("database is locked"), so the commit takes
    the write lock before it reads (the other save waits, as behind any writer); on
    PostgreSQL both go through."""
    import sqlite3

    import psycopg

    from crm.excel import jobs
    client = as_role("admin")
    job_url = _upload(client, messy_ledger())
    jobs.wait()
    before = counts()
    url = sa.make_url(database_url)
    real_preview, other_save = importer.preview, []

    def preview_then_another_save(*args, **kwargs):
        result = real_preview(*args, **kwargs)
        if kwargs.get("reuse"):      # the commit's check, not the preview
            if url.get_backend_name() == "sqlite":
                conn = sqlite3.connect(url.database, timeout=0.2, isolation_level=None)
            else:
                conn = psycopg.connect(url.set(drivername="postgresql")
                                       .render_as_string(False), autocommit=True)
            try:
                conn.execute("""UPDATE "user" SET display_name = display_name || '.'
                                WHERE username = 'leader1'""")
                other_save.append("saved")
            except sqlite3.OperationalError as exc:
                other_save.append(str(exc))
            finally:
                conn.close()
        return result

    monkeypatch.setattr(importer, "preview", preview_then_another_save)
    client.post(job_url + "/commit", data={"mode": "all"})
    jobs.wait()
    assert client.get(job_url + "/progress").json["state"] == "done"
    db.session.rollback()
    assert counts()["Project"] == before["Project"] + 6
    assert other_save == (["database is locked"] if url.get_backend_name() == "sqlite"
                          else ["saved"])


def test_a_preview_outlasts_another_writer_holding_the_lock(make_app, database_url,
                                                            monkeypatch):
    """SQLite: another writer (e.g. another import committing) holds the write lock for
    several lock waits while a ledger is checked and after. The progress shown lags
    behind; the check is not failed, and the job is not left "checking" for want of the
    lock to write its outcome (or its failure): it waits for the lock."""
    import random
    import sqlite3
    import threading

    import crm.extensions
    from crm.auth.services import create_user
    from crm.excel import jobs
    from crm.models import ImportJob
    from tests.bench_excel import ledger_to_import
    from tests.conftest import PASSWORD
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL: the job's own row is never locked by another writer")
    monkeypatch.setattr(crm.extensions, "LOCK_WAIT_MS", 300)
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0)
    real_preview, held = importer.preview, []

    def preview_while_another_writes(*args, **kwargs):
        holder = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(2.0, holder.rollback)     # beyond the preview's end
        release.start()
        held.append((release, holder))
        return real_preview(*args, **kwargs)

    monkeypatch.setattr(importer, "preview", preview_while_another_writes)
    app = make_app()
    with app.app_context():
        job = jobs.create_job(create_user("admin9", "admin9", "admin", PASSWORD, None),
                              "台账.xlsx", ledger_to_import(random.Random(3), 400))
        db.session.commit()
        jobs.start(job.id)
        jobs.wait()
        for release, holder in held:
            release.join()
            holder.close()
        db.session.rollback()
        job = db.session.get(ImportJob, job.id)
        assert (job.state, job.message) == ("ready", "")
        assert json.loads(job.result)["counts"]["created"] == 400
