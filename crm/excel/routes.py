"""Ledger downloads and import (台账), and the monthly report (月报)."""
from datetime import date
from io import BytesIO

from flask import (flash, jsonify, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.auth import policy
from crm.clock import today
from crm.excel import bp, monthly as report
from crm.excel import importer, jobs, reader
from crm.excel.export import ledger_rows, template_choices
from crm.excel.forms import SKIP_INVALID, ImportCheckForm, ImportCommitForm, LedgerUploadForm
from crm.extensions import db
from crm.forms import form_status
from crm.models import ImportJob
from crm.excel.writer import write_ledger, write_template
from crm.projects.forms import read_list_request
from crm.security_log import security_event

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(buffer: BytesIO, name: str):
    """Send a workbook under its Chinese file name (RFC 6266 filename*); never cached, as
    nothing a signed-in user gets is (crm/headers.py)."""
    security_event("export", user=current_user.username, file=name)
    buffer.seek(0)
    return send_file(buffer, mimetype=XLSX, as_attachment=True, download_name=name)


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


MONTHS_OFFERED = 36


def month_choices(day: date) -> list[tuple[str, str]]:
    """The picker's months, newest first: the current one (to date), then the past ones."""
    out, month = [], day.replace(day=1)
    for i in range(MONTHS_OFFERED):
        label = _("%(year)s年%(month)s月", year=month.year, month=month.month)
        out.append((f"{month:%Y-%m}", _("%(month)s（本月至今）", month=label) if not i
                    else label))
        month = report.last_complete_month(month)
    return out


@bp.route("/reports/monthly")
@policy.require(policy.READ)
def monthly():
    """The monthly report page (pick a month, default the last complete one); with
    ``?month=YYYY-MM&download=1``, the workbook."""
    day = today()
    month, error = report.last_complete_month(day), None
    if "month" in request.args:
        try:
            month = report.parse_month(request.args["month"], day)
        except ValueError as exc:
            error = _(str(exc))
    if error is None and request.args.get("download"):
        buffer = BytesIO()
        report.write_monthly_report(month, buffer)
        return xlsx_download(buffer, report.file_name(month))
    return render_template("excel/monthly.html", month=f"{month:%Y-%m}",
                           months=month_choices(day), error=error), 400 if error else 200


def _own_job(job_id: int) -> ImportJob:
    """The import job, to its uploader or an administrator only."""
    job = db.get_or_404(ImportJob, job_id)
    policy.ensure(policy.IMPORT_LEDGER, job)
    return job


@bp.route("/ledger/import", methods=["GET", "POST"])
@policy.require(policy.IMPORT_LEDGER)
def import_ledger():
    """Upload a ledger: it is checked in the background and the job page follows it."""
    form = LedgerUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        job = jobs.create_job(current_user, upload.filename or "台账.xlsx",
                              upload.read(reader.MAX_FILE_BYTES + 1))
        db.session.commit()
        jobs.start(job.id)
        return redirect(url_for("excel.import_job", job_id=job.id))
    recent = db.session.scalars(select(ImportJob).where(ImportJob.user_id == current_user.id)
                                .order_by(ImportJob.id.desc()).limit(10)).all()
    return render_template("excel/import.html", form=form, recent=recent,
                           state_of=jobs.effective_state, job_state_labels=jobs.STATE_LABELS,
                           max_mb=reader.MAX_FILE_BYTES // (1024 * 1024),
                           max_rows=reader.MAX_DATA_ROWS), form_status(form)


@bp.route("/ledger/import/<int:job_id>")
@policy.require(policy.IMPORT_LEDGER)
def import_job(job_id):
    """The job: its progress while it runs, then the preview or the outcome."""
    job = _own_job(job_id)
    view = jobs.shown(job)
    check = ImportCheckForm(sheet=job.sheet, confirm_new=job.confirm_new)
    if view:
        check.sheet.choices = [(s, s) for s in view["sheets"]]
    return render_template("excel/import_job.html", job=job, view=view,
                           state=jobs.effective_state(job), check=check,
                           has_file=jobs.has_file(job),
                           commit=ImportCommitForm(), new_kinds=importer.NEW_KINDS,
                           job_state_labels=jobs.STATE_LABELS)


@bp.route("/ledger/import/<int:job_id>/progress")
@policy.require(policy.IMPORT_LEDGER)
def import_progress(job_id):
    """How far the job got (the job page polls this)."""
    job = _own_job(job_id)
    return jsonify(state=jobs.effective_state(job), done=job.done_rows, total=job.total_rows)


@bp.route("/ledger/import/<int:job_id>/check", methods=["POST"])
@policy.require(policy.IMPORT_LEDGER)
def import_check(job_id):
    """Check the file again (another sheet, new names confirmed, or after a failure)."""
    job = _own_job(job_id)
    form = ImportCheckForm()
    if jobs.effective_state(job) in jobs.RUNNING or job.state == jobs.DONE:
        flash(_("该导入正在进行或已完成"), "warning")
    elif not jobs.has_file(job):
        flash(_(jobs.EXPIRED), "warning")
        return redirect(url_for("excel.import_ledger"))
    elif form.validate_on_submit():
        jobs.restart(job, jobs.CHECKING, sheet=form.sheet.data or None,
                     confirm_new=form.confirm_new.data)
        db.session.commit()
        jobs.start(job.id)
    return redirect(url_for("excel.import_job", job_id=job.id))


@bp.route("/ledger/import/<int:job_id>/commit", methods=["POST"])
@policy.require(policy.IMPORT_LEDGER)
def import_commit(job_id):
    """Write the checked ledger (checked once more as it is written)."""
    job = _own_job(job_id)
    form = ImportCommitForm()
    if job.state != jobs.READY or jobs.effective_state(job) != jobs.READY:
        flash(_("请先完成检查再导入"), "warning")
    elif form.validate_on_submit():
        jobs.restart(job, jobs.COMMITTING, skip_invalid=form.mode.data == SKIP_INVALID)
        db.session.commit()
        jobs.start(job.id)
    return redirect(url_for("excel.import_job", job_id=job.id))
