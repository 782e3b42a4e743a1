"""Read a ledger workbook: check the archive before anything opens it, pick the sheet that
holds the ledger, find its header row(s) and columns, and yield its data rows with merged
cells applied, reporting each row it skips and why. No Flask, no database.

The cells are read by calamine (Rust; ~18× faster than openpyxl's read-only mode, which
made reading most of an import's time); formula cells, whose text calamine does not
give, are taken from the sheet's XML."""
from __future__ import annotations

import html
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO

from defusedxml import ElementTree as DefusedET
from openpyxl.formula.translate import Translator
from openpyxl.utils import coordinate_to_tuple, get_column_letter
from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from crm.excel import parse
from crm.excel.columns import LEDGER_COLUMNS
from crm.lifecycle import N_
from crm.text import normalize

MAX_FILE_BYTES = 10 * 1024 * 1024       # an upload
MAX_ENTRIES = 1000                      # files inside the archive
MAX_UNCOMPRESSED = 50 * 1024 * 1024     # all of them, unpacked
# Spreadsheet XML packs 10–60×; a zip bomb packs 1000× and more. Only large entries are
# judged by their ratio (a tiny, very regular part may pack better).
MAX_RATIO, RATIO_FROM_BYTES = 200, 1024 * 1024
MAX_DATA_ROWS = 50_000
HEADER_SCAN_ROWS = 20
INSTRUCTION_SHEETS = ("说明", "选项", "填写须知", "instructions")

_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"     # OLE2: .xls, or an encrypted .xlsx
_ZIP_MAGIC = b"PK\x03\x04"
_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


class WorkbookError(Exception):
    """The file cannot be read as a ledger; ``message`` is a translatable template."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


def check_archive(data: bytes) -> None:
    """Refuse what is not a workbook, or would unpack too large, before anything reads
    it: the zip's own directory gives each entry's size, and Python's zip reader stops
    at that size, so the check is cheap and binding."""
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookError(N_("文件超过 %(mb)s MB，请拆分后分批导入"), mb="10")
    if data.startswith(_XLS_MAGIC):
        raise WorkbookError(N_("这是旧版 Excel（.xls）文件或受密码保护的文件，请在 Excel 中"
                               "另存为 .xlsx（不设密码）后再导入"))
    if not data.startswith(_ZIP_MAGIC):
        if _looks_like_text(data):
            raise WorkbookError(N_("这是文本（CSV）文件，请在 Excel 中另存为 .xlsx 后再导入"))
        raise WorkbookError(N_("文件不是有效的 Excel 工作簿（.xlsx）"))
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise WorkbookError(N_("文件不是有效的 Excel 工作簿（.xlsx），可能已损坏")) from None
    if len(entries) > MAX_ENTRIES:
        raise WorkbookError(N_("文件结构异常（包含 %(n)s 个部件），已拒绝"), n=str(len(entries)))
    total = 0
    for entry in entries:
        total += entry.file_size
        if (entry.file_size >= RATIO_FROM_BYTES
                and entry.file_size > MAX_RATIO * max(entry.compress_size, 1)):
            raise WorkbookError(N_("文件压缩比异常（疑似压缩炸弹），已拒绝"))
    if total > MAX_UNCOMPRESSED:
        raise WorkbookError(N_("文件解压后超过 %(mb)s MB，请拆分后分批导入"), mb="50")
    if "xl/workbook.xml" not in {e.filename for e in entries}:
        raise WorkbookError(N_("文件不是有效的 Excel 工作簿（.xlsx）"))


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


# Header text (normalised) → column key, from the ledger's headers and their synonyms.
_HEADER_KEYS = {normalize(name): c.key for c in LEDGER_COLUMNS
                for name in (c.header, *c.aliases)}
# Sub-headers that only say which currency or unit an amount column holds.
_FOREIGN_WORDS = {"外资", "美元", "外币", "美金"}
_CURRENCY_WORDS = {"人民币", "内资", "金额", *_FOREIGN_WORDS}


@dataclass(frozen=True)
class ColumnRef:
    """A column of the sheet: where it is, its header as written, what it holds."""

    index: int          # 0-based
    header: str
    key: str | None     # a LEDGER_COLUMNS key, or None when not recognised
    unit: str | None = None     # the amount unit its header names (总投资（亿元）)

    @property
    def letter(self) -> str:
        return get_column_letter(self.index + 1)


@dataclass
class DataRow:
    """One row to import: its Excel row number and cleaned cell values by column."""

    number: int
    values: tuple


@dataclass
class SkippedRow:
    """A row that holds no project, and why (a translatable reason)."""

    number: int
    reason: str
    text: str = ""


@dataclass
class Layout:
    """Where the ledger lies in its sheet."""

    sheet: str
    header_rows: tuple[int, ...]
    columns: list[ColumnRef] = field(default_factory=list)

    def by_key(self) -> dict[str, list[ColumnRef]]:
        """The recognised columns by key, in sheet order."""
        out: dict[str, list[ColumnRef]] = {}
        for c in self.columns:
            if c.key:
                out.setdefault(c.key, []).append(c)
        return out

    @property
    def ignored(self) -> list[ColumnRef]:
        """Columns with a header the ledger does not know."""
        return [c for c in self.columns if c.key is None and c.header]


def header_key(text) -> tuple[str | None, str | None, str]:
    """(column key, amount unit, bare name) of one header cell."""
    if text is None:
        return None, None, ""
    name, unit = parse.header_unit(parse.parse_text(text))
    name = name.strip("*＊:：")
    return _HEADER_KEYS.get(normalize(name)), unit, name


class _Sheet:
    """One sheet's cells as calamine reads them (0-based rows and columns, from A1), with
    formula cells as their text and error cells as their code (what openpyxl gave),
    and its merged ranges."""

    def __init__(self, sheet: CalamineSheet, special: dict[tuple[int, int], str],
                 nrows: int | None = None):
        self.grid = sheet.to_python(skip_empty_area=False, nrows=nrows)
        for (r, c), value in special.items():
            if r < len(self.grid) and c < len(self.grid[r]):
                self.grid[r][c] = value
        # row (1-based) → [(first column, last column, anchor row)] (0-based columns)
        self.by_row: dict[int, list[tuple[int, int, int]]] = {}
        for (r1, c1), (r2, c2) in sheet.merged_cell_ranges or ():
            for r in range(r1, r2 + 1):
                self.by_row.setdefault(r + 1, []).append((c1, c2, r1 + 1))
        self.anchors: dict[tuple[int, int], object] = {}

    def fill(self, number: int, values: list, across: bool) -> None:
        """Give the cells of merged ranges the value of the range's first cell: down the
        rows it spans and, for header rows (``across``), along its columns too."""
        for c1, c2, r1 in self.by_row.get(number, ()):
            if number == r1:
                self.anchors[(r1, c1)] = values[c1] if c1 < len(values) else None
            value = self.anchors.get((r1, c1))
            for c in range(c1, (c2 if across else c1) + 1):
                if c < len(values):
                    values[c] = value


# A cell holding a formula or an error value, and what is inside.
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ERROR_TYPE = re.compile(rb"\st=\"e\"")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_FORMULA = re.compile(rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)
_ATTR = re.compile(rb'\b(r|t|si|ref)="([^"]*)"')


def _formulas_and_errors(xml: bytes) -> dict[tuple[int, int], str]:
    """(row, column) → the text of each formula cell ("=A1&B1", never its cached result:
    a formula is read as typed, never evaluated) and the code of each error cell
    ("#N/A"), from a sheet's XML. Shared formulas are translated to each cell, as
    openpyxl does."""
    out: dict[tuple[int, int], str] = {}
    # Most ledgers have neither: nothing to scan. Each regular expression runs only where
    # a plain search, twice as fast, finds text it needs (a formula's tag is <f …> or
    # <x:f …>; an error cell has t="e"): 0.14 s → 0.02 s for 10,000 rows.
    if not (((b"<f" in xml or b":f" in xml) and _FORMULA_TAG.search(xml))
            or (b't="e"' in xml and _ERROR_TYPE.search(xml))):
        return out
    shared: dict[bytes, tuple[str, str]] = {}
    for cell in _CELL.finditer(xml):
        attrs = dict(_ATTR.findall(cell.group(1)))
        body = cell.group(2) or b""
        if b"r" not in attrs:
            continue
        ref = attrs[b"r"].decode()
        col, row = coordinate_to_tuple(ref)[::-1]
        formula = _FORMULA.search(body)
        if formula:
            f_attrs = dict(_ATTR.findall(formula.group(1)))
            text = "=" + html.unescape((formula.group(2) or b"").decode())
            if f_attrs.get(b"t") == b"shared":
                si = f_attrs.get(b"si", b"")
                if formula.group(2):
                    shared[si] = (text, ref)
                elif si in shared:
                    text = Translator(shared[si][0], origin=shared[si][1]).translate_formula(ref)
            out[(row - 1, col - 1)] = text
        elif attrs.get(b"t") == b"e":
            value = _VALUE.search(body)
            out[(row - 1, col - 1)] = html.unescape(value.group(1).decode()) if value else None
    return out


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the path of its XML in the archive (from the workbook's relations)."""
    try:
        workbook = DefusedET.fromstring(archive.read("xl/workbook.xml"))
        rels = DefusedET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except KeyError:
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for sheet in workbook.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        target = targets.get(rid)
        if target:
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            out[sheet.get("name")] = posixpath.normpath(path)
    return out


def _cleaned(row) -> list:
    """Calamine's values as the parsers take them: None for empty, whole numbers as
    int (as typed), text trimmed."""
    # Most cells are text or empty (""): one cached call each (clean_text("") is None).
    clean_text = parse.clean_text
    return [clean_text(v) if type(v) is str else
            int(v) if type(v) is float and v.is_integer() else parse.clean(v) for v in row]


class Ledger:
    """A ledger workbook read into memory: ``sheets`` holding a ledger, ``layout`` of the
    chosen one, ``rows()`` to go through it. Raises WorkbookError for anything it cannot
    read. Nothing stays open: the file is released once its cells are read."""

    def __init__(self, data: bytes, sheet: str | None = None):
        check_archive(data)
        try:
            self._archive = zipfile.ZipFile(BytesIO(data))
            _refuse_entities(self._archive)
            self._paths = _sheet_paths(self._archive)
            self._special: dict[str, dict] = {}
            self._read: dict[str, CalamineSheet] = {}   # each sheet read once
            self._book = CalamineWorkbook.from_filelike(BytesIO(data))
        except WorkbookError:
            raise
        except Exception as exc:   # defusedxml's refusal, or a broken file
            raise _xml_error(exc) from None
        try:
            self._choose(sheet)
        finally:
            # The cells are Python's now (or the file was refused): calamine's copy goes.
            self._book.close()
            self._archive.close()
            self._read.clear()

    def _choose(self, sheet: str | None) -> None:
        """Find the sheets holding a ledger, take ``sheet`` (or the only one) and read
        its cells."""
        layouts = {}
        for meta in self._book.sheets_metadata:
            if (meta.visible != SheetVisibleEnum.Visible or meta.typ != SheetTypeEnum.WorkSheet
                    or any(w in meta.name.lower() for w in INSTRUCTION_SHEETS)):
                continue
            layout = self._find_header(meta.name)
            if layout is not None:
                layouts[meta.name] = layout
        self.sheets = list(layouts)
        if not layouts:
            raise WorkbookError(N_("未找到台账表头：前 %(n)s 行中没有「项目名称」列"),
                                n=str(HEADER_SCAN_ROWS))
        if sheet is None and len(layouts) > 1:
            error = WorkbookError(
                N_("工作簿中有多个工作表含有台账（%(names)s），请选择要导入的工作表"),
                names="、".join(layouts))
            error.sheets = self.sheets      # for the user to choose from
            raise error
        if sheet is not None and sheet not in layouts:
            raise WorkbookError(N_("工作表「%(name)s」中没有台账表头"), name=sheet)
        self.layout = layouts[sheet or self.sheets[0]]
        self._sheet = self._open(self.layout.sheet)
        self.total_rows = max(len(self._sheet.grid) - self.layout.header_rows[-1], 0)

    def _open(self, name: str, nrows: int | None = None) -> _Sheet:
        try:
            if name not in self._special:
                path = self._paths.get(name)
                self._special[name] = _formulas_and_errors(self._archive.read(path)) \
                    if path else {}
                self._read[name] = self._book.get_sheet_by_name(name)
            return _Sheet(self._read[name], self._special[name], nrows)
        except Exception as exc:
            raise _xml_error(exc) from None

    def _find_header(self, name: str) -> Layout | None:
        """The header row(s) among the first rows: the first row naming the project
        column and another known column; the row below it too when it holds
        sub-headers (时间节点 → 签约/开工…, 总投资 → 亿元/万美元)."""
        sheet = self._open(name, HEADER_SCAN_ROWS + 1)
        rows = []
        for number, row in enumerate(sheet.grid, 1):
            values = _cleaned(row)
            sheet.fill(number, values, across=True)
            rows.append(values)
        for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            keys = [header_key(v)[0] for v in row]
            if "name" not in keys or len({k for k in keys if k}) < 2:
                continue
            below = rows[i + 1] if i + 1 < len(rows) else []
            two = _is_sub_header(row, below, keys.index("name"))
            return Layout(name, (i + 1, i + 2) if two else (i + 1,),
                          _columns(row, below if two else None))
        return None

    def rows(self) -> Iterator[DataRow | SkippedRow]:
        """The rows below the header: data rows, and skipped rows with their reason
        (blank rows after the last data are not reported). Raises WorkbookError past
        MAX_DATA_ROWS."""
        sheet = self._sheet
        width = max((c.index for c in self.layout.columns), default=0) + 1
        first = self.layout.header_rows[-1] + 1
        kinds = _RowColumns.of(self.layout.columns)
        blanks: list[SkippedRow] = []
        count = 0
        # Header rows first: a range merged down from them must be known.
        grid = sheet.grid
        for number in range(1, len(grid) + 1):
            row, grid[number - 1] = grid[number - 1], None     # freed as it is read
            values = _cleaned(row[:width])
            if len(values) < width:
                values += [None] * (width - len(values))
            if number in sheet.by_row:      # in a merged range (most rows are not)
                sheet.fill(number, values, across=number < first)
            if number < first:
                continue
            reason = _skip_reason(values, kinds)
            if reason is None:
                yield from blanks
                blanks.clear()
                count += 1
                if count > MAX_DATA_ROWS:
                    raise WorkbookError(N_("数据超过 %(n)s 行，请拆分后分批导入"),
                                        n=str(MAX_DATA_ROWS))
                yield DataRow(number, tuple(values))
            elif reason == _BLANK:
                blanks.append(SkippedRow(number, reason))
            else:
                yield from blanks
                blanks.clear()
                yield SkippedRow(number, reason, _first_text(values))


def _refuse_entities(archive: zipfile.ZipFile) -> None:
    """Refuse XML declaring entities (a "billion laughs" expansion or an external entity
    reading local files) in any part, before anything parses it."""
    for entry in archive.infolist():
        if entry.filename.endswith((".xml", ".rels")) and b"<!ENTITY" in archive.read(entry):
            raise WorkbookError(N_("文件含有不安全的 XML 内容（实体声明），已拒绝"))


def _xml_error(exc: BaseException | None) -> WorkbookError:
    """defusedxml's refusal (openpyxl may wrap it) or a broken file, as the user's error."""
    while exc is not None:
        if type(exc).__module__.startswith("defusedxml"):
            return WorkbookError(N_("文件含有不安全的 XML 内容（实体声明），已拒绝"))
        exc = exc.__cause__ or exc.__context__
    return WorkbookError(N_("文件不是有效的 Excel 工作簿（.xlsx），可能已损坏"))


def _is_sub_header(top: list, below: list, name_col: int) -> bool:
    """True when ``below`` is the second row of a two-row header: nothing of its own
    in the project-name column, and some cell naming a column or an amount unit."""
    if not below or (below[name_col] not in (None, top[name_col])):
        return False
    for c, v in enumerate(below):
        if v is None or (c < len(top) and v == top[c]):
            continue
        key, unit, name = header_key(v)
        if key or unit or name in _CURRENCY_WORDS:
            return True
    return False


def _columns(top: list, below: list | None) -> list[ColumnRef]:
    """The columns of a one- or two-row header. A sub-header names the column (签约
    under 时间节点) or, when it is only a unit or currency (亿元, 人民币 under 总投资),
    gives the unit of the column named above it."""
    columns = []
    for c, text in enumerate(top):
        key, unit, _name = header_key(text)
        header = parse.parse_text(text) if text is not None else ""
        sub = below[c] if below is not None and c < len(below) else None
        if sub is not None and sub != text:
            skey, sunit, sname = header_key(sub)
            header = f"{header}/{parse.parse_text(sub)}" if header else parse.parse_text(sub)
            if skey:
                key, unit = skey, sunit or unit
            elif sunit:
                unit = sunit
            elif sname in _CURRENCY_WORDS:
                unit = _currency_unit(sname, unit)
            else:
                key = None
        if header or key:
            columns.append(ColumnRef(c, header, key, unit))
    return columns


def _currency_unit(word: str, unit: str | None) -> str | None:
    """The unit of a column headed only by its currency under a header with a unit:
    美元 under 总投资（万元） holds 万美元; 人民币 there holds 万元. Foreign capital
    without a unit is in 万美元, as ledgers report it."""
    if word not in _FOREIGN_WORDS:
        return unit
    magnitude = (unit or "万").rstrip("元人民币")
    return f"{magnitude if magnitude in ('', '万', '亿') else '万'}美元"


_BLANK = N_("空行")
_SUBTOTAL = N_("合计行")
_HEADING = N_("分组标题行")
_FOOTNOTE = N_("注释行")
_SUBTOTAL_WORDS = re.compile(r"^(合计|小计|总计|共计|累计|总合计)|^(其中)?[:：]?(合计|小计)")
# 一、光伏产业 / （二）汽车: a numbered group (a bare 一 could start a name: 一汽解放).
_NUMERAL, _BRACKETED = "[一二三四五六七八九十百]+", "[（(][一二三四五六七八九十\\d]+[)）]"
_HEADING_NUMBER = re.compile(rf"^(?:{_NUMERAL}[、.．]|{_BRACKETED})")
_GROUP_SERIAL = re.compile(rf"^(?:{_NUMERAL}[、.．]?|{_BRACKETED})$")
_FOOTNOTE_START = re.compile(r"^(注|说明|备注|附注|填报说明|数据来源|填报人|制表人|制表|审核人|"
                             r"审核|负责人|联系人|联系电话|填报日期|制表日期)\s*\d*[:：.．、]|^\*")
_HEADING_SUFFIX = re.compile(r"(产业|产业链|行业|板块)[（(]?\d*[个项]?[)）]?$")
# Columns whose values make a row a project (beyond its name).
_FIGURE_KEYS = {"amount", "stage", "company", "signed_on", "started_on", "producing_on",
                "at_capacity_on", "code"}


def _first_text(values: list) -> str:
    text = next((parse.parse_text(v) for v in values if v is not None), "")
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(frozen=True)
class _RowColumns:
    """The columns _skip_reason looks at, found once for all the rows of a sheet."""

    name: int                   # the project-name column
    serial: frozenset[int]      # 序号
    texts: frozenset[int]       # 序号 and 项目名称, where 合计 stands
    figures: frozenset[int]     # columns whose values make a row a project

    @classmethod
    def of(cls, columns: list[ColumnRef]) -> _RowColumns:
        def where(keys) -> frozenset[int]:
            return frozenset(c.index for c in columns if c.key in keys)
        return cls(next(c.index for c in columns if c.key == "name"), where({"serial"}),
                   where({"serial", "name"}), where(_FIGURE_KEYS))


def _skip_reason(values: list, kinds: _RowColumns) -> str | None:
    """Why a row holds no project (None when it is a data row)."""
    filled = [c for c, v in enumerate(values) if v is not None]     # columns with a value
    if not filled:
        return _BLANK
    # 合计 stands in the serial or name column, or first in the row (a company named
    # 小计科技 further right is data).
    texts = [parse.parse_text(values[c]) for c in filled
             if c == filled[0] or c in kinds.texts]
    if any(_SUBTOTAL_WORDS.match(t) for t in texts):
        return _SUBTOTAL
    if _FOOTNOTE_START.match(texts[0]):
        return _FOOTNOTE
    has_figures = not kinds.figures.isdisjoint(filled)
    if has_figures:
        return None
    name = values[kinds.name]
    if name is None:
        # One text across the row, or in the serial column only: a heading or a note.
        return _HEADING if len({parse.parse_text(values[c]) for c in filled}) == 1 else None
    name_text = parse.parse_text(name)
    serial = next((values[c] for c in filled if c in kinds.serial), None)
    if isinstance(serial, str) and _GROUP_SERIAL.match(serial):
        return _HEADING         # 一 | 光伏产业
    if _HEADING_NUMBER.match(name_text):
        return _HEADING         # 一、光伏产业
    if (serial is None and len(filled) == 1 and _HEADING_SUFFIX.search(name_text)):
        return _HEADING         # 光伏产业 alone, unnumbered
    return None
