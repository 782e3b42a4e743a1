"""Ledger downloads."""
from io import BytesIO

from flask import request, send_file
from flask_login import login_required

from crm.clock import today
from crm.excel import bp
from crm.excel.export import ledger_rows, template_choices
from crm.excel.writer import write_ledger, write_template
from crm.projects.forms import read_list_request

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(buffer: BytesIO, name: str):
    """Send a workbook under its Chinese file name (RFC 6266 filename*), never cached."""
    buffer.seek(0)
    response = send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/ledger/export")
@login_required
def export():
    """The project list's current filters and order as the ledger (台账) workbook."""
    _form, filters, sort = read_list_request(request.args)
    buffer = BytesIO()
    write_ledger(ledger_rows(filters, sort), buffer)
    return xlsx_download(buffer, f"项目台账-{today():%Y%m%d}.xlsx")


@bp.route("/ledger/template")
@login_required
def template():
    """The empty ledger to fill in, with drop-down lists and a 填写说明 sheet."""
    buffer = BytesIO()
    write_template(buffer, template_choices())
    return xlsx_download(buffer, "项目台账模板.xlsx")
