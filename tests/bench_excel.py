"""The Excel part of `make bench` (tests/bench.py calls it on the 100,000-project zone):
the ledger export, the monthly report and a 10,000-row ledger import, each timed against
openpyxl alone doing the same writing or reading in the same run (the issue's measure;
the app writes with XlsxWriter, so XlsxWriter alone is shown beside it), with the memory
the worker grew by."""
from __future__ import annotations

import gc
import io
import os
import random
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook, load_workbook

IMPORT_ROWS = 10_000
TARGETS = {"ledger export": 1.2, "monthly report": 1.5, "ledger import": 1.5}
MEMORY_TARGET_MB = 150.0


def _rss() -> int:
    """This process's resident memory now, in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


class Memory:
    """The growth of this process's resident memory over a block, at its peak: sampled
    every 20 ms by a thread (the kernel's own peak, VmHWM, cannot be reset everywhere)."""

    def __enter__(self):
        gc.collect()
        self.before = self.peak = _rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.growth_mb = (self.peak - self.before) / 1024 / 1024


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _bare_write(sheets: list[tuple[str, list[list]]]) -> float:
    """openpyxl alone, write-only: the same cells, no formats."""
    def write():
        wb = Workbook(write_only=True)
        for title, rows in sheets:
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        wb.save(io.BytesIO())
    return _timed(write)[0]


def _xlsxwriter_write(sheets: list[tuple[str, list[list]]]) -> float:
    """XlsxWriter alone, constant-memory mode (the library the app writes with): the same
    cells, no formats. Not the target's measure, shown beside it."""
    from crm.excel.writer import Book

    def write():
        book = Book(io.BytesIO())       # the app's workbook options
        for title, rows in sheets:
            ws = book.wb.add_worksheet(title)
            for i, row in enumerate(rows):
                ws.write_row(i, 0, row)
        book.close()
    return _timed(write)[0]


def _cells(data: bytes) -> list[tuple[str, list[list]]]:
    """Every sheet's values of a workbook (what a bare writer is given)."""
    wb = load_workbook(io.BytesIO(data), read_only=True)
    out = [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)])
           for ws in wb.worksheets]
    wb.close()
    return out


def _bare_read(data: bytes) -> float:
    """openpyxl alone, read-only: open the file and read every value."""
    def read():
        wb = load_workbook(io.BytesIO(data), read_only=True)
        n = sum(1 for ws in wb.worksheets for _row in ws.iter_rows(values_only=True))
        wb.close()
        return n
    return _timed(read)[0]


def ledger_to_import(rng: random.Random, n: int) -> bytes:
    """A ledger of ``n`` new projects in the ledger format, as a bureau's first import
    would be: leads to producing ones with month or day dates, CNY and USD amounts."""
    from crm.excel.columns import HEADERS
    regions = ["上海", "苏州", "韩国", "深圳", "日本", "北京", "南京"]
    industries = ["光伏", "新材料", "电子信息", "高端装备", "新能源汽车"]
    units = ["光伏产业园", "区中韩办", "区经发局", "新能源汽车产业园"]
    stages = ["在谈", "签约", "开工", "投产", "达产"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("项目台账")
    ws.append(list(HEADERS))
    for i in range(n):
        s = rng.randrange(5)
        dates = [(date(2019 + k, rng.randrange(1, 13), rng.randrange(1, 28)) if k % 2 else
                  f"{2019 + k}-{rng.randrange(1, 13):02d}") if k < s else None for k in range(4)]
        usd = rng.random() < 0.2
        ws.append([i + 1, None, f"基准导入项目{i:05d}号", f"基准导入企业{i % 3000:04d}有限公司",
                   "、".join(rng.sample(regions, rng.randrange(1, 3))), rng.choice(industries),
                   rng.randrange(1, 5000) if usd else rng.randrange(1, 500) / 10,
                   "万美元" if usd else "亿元", "年产" + "新型材料" * rng.randrange(1, 6),
                   stages[s], "正常推进", *dates, rng.choice(units), "王副区长", None,
                   "需协调：用地指标" if rng.random() < 0.1 else None, None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def measure(app) -> list[tuple]:
    """(name, ours s, bare s, memory growth MB, note) for each Excel measure."""
    from crm.dashboard.queries import month_end
    from crm.excel import importer
    from crm.excel.export import ledger_rows
    from crm.excel.monthly import write_monthly_report
    from crm.excel.writer import write_ledger
    from crm.extensions import db
    from crm.projects.queries import ProjectFilters

    results = []
    with app.app_context():
        out = io.BytesIO()
        with Memory() as mem:
            ours, n = _timed(lambda: write_ledger(ledger_rows(ProjectFilters(), "code"), out))
        db.session.remove()
        sheets = _cells(out.getvalue())
        bare, alone = _bare_write(sheets), _xlsxwriter_write(sheets)
        del sheets
        results.append(("ledger export", ours, bare, mem.growth_mb,
                        f"{n:,} projects; XlsxWriter alone {alone:.1f} s ({ours / alone:.2f}×)"))

        month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
        out = io.BytesIO()
        with Memory() as mem:
            ours, _ = _timed(lambda: write_monthly_report(month, out))
        db.session.remove()
        sheets = _cells(out.getvalue())
        bare, alone = _bare_write(sheets), _xlsxwriter_write(sheets)
        rows = sum(len(r) for _t, r in sheets)
        del sheets
        results.append(("monthly report", ours, bare, mem.growth_mb,
                        f"{rows:,} rows as of {month_end(month.year, month.month)}; "
                        f"XlsxWriter alone {alone:.1f} s ({ours / alone:.2f}×)"))

        data = ledger_to_import(random.Random(5), IMPORT_ROWS)
        bare = _bare_read(data)
        with Memory() as mem:
            t_preview, result = _timed(lambda: importer.preview(data, None))
            db.session.remove()
            t_commit, result = _timed(lambda: importer.commit(data, None, "bench.xlsx"))
            db.session.commit()
        errors = len(result.all_errors)
        results.append(("ledger import", t_preview + t_commit, bare, mem.growth_mb,
                        f"{IMPORT_ROWS:,} rows: preview {t_preview:.1f} s "
                        f"({t_preview / bare:.2f}× bare), commit {t_commit:.1f} s, "
                        f"{result.count('create'):,} created, {errors} errors"))
        db.session.remove()
    return results


def report(results: list[tuple]) -> tuple[list[dict], list[str]]:
    """Print the Excel table; return the $BENCH_OUT rows and the measures missed."""
    rows, missed = [], []
    print(f"\n{'excel':<16} {'ours s':>8} {'bare s':>8} {'ratio':>6} {'target':>7}  met  "
          f"{'memory MB':>9}  met  note")
    for name, ours, bare, growth, note in results:
        ratio = ours / bare if bare else None
        met = ratio is not None and ratio <= TARGETS[name]
        mem_met = growth <= MEMORY_TARGET_MB
        if not met:
            missed.append(f"{name} ratio")
        if not mem_met:
            missed.append(f"{name} memory")
        print(f"{name:<16} {ours:>8.1f} {bare:>8.1f} {ratio:>6.2f} {TARGETS[name]:>7.1f}  "
              f"{'yes' if met else 'NO ':<4} {growth:>9.0f}  {'yes' if mem_met else 'NO ':<4} "
              f"{note}")
        rows += [{"name": f"{name} seconds", "value": round(ours, 2), "unit": "s",
                  "target": None, "met": True},
                 {"name": f"{name} / bare openpyxl", "value": round(ratio, 3), "unit": "x",
                  "target": TARGETS[name], "met": met},
                 {"name": f"{name} memory growth", "value": round(growth, 1), "unit": "MB",
                  "target": MEMORY_TARGET_MB, "met": mem_met}]
    return rows, missed
