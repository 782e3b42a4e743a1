"""Routes that belong to no domain: home, language, health; the error handlers."""
from urllib.parse import urlsplit

from flask import current_app, g, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from crm.auth import policy
from crm.clock import today
from crm.coordination.queries import new_instructions_stmt
from crm.extensions import db, is_busy
from crm.forms import kept_form
from crm.i18n import LANG_COOKIE
from crm.main import bp
from crm.projects.queries import stalled_projects
from crm.security_log import security_event
from crm.visits.queries import follow_ups_stmt


STALLED_ON_HOME = 20  # the worst ones; the rest are a click away on the project list


@bp.route("/")
@login_required
def index():
    """Home page: one tap to log a visit; the user's follow-ups due and overdue and the
    leaders' new instructions on their projects; their stalled projects."""
    day = today()
    return render_template(
        "main/index.html", today=day,
        follow_ups=db.session.scalars(follow_ups_stmt(current_user, day)).all(),
        instructions=db.session.scalars(new_instructions_stmt(current_user).limit(20)).all(),
        stalled=stalled_projects(current_user, day),
        stalled_shown=STALLED_ON_HOME,
        can_log=policy.can(current_user, policy.LOG_VISIT))


@bp.route("/lang/<code>")
def lang(code: str):
    """Switch the interface language (a cookie; nothing is written to the database)."""
    target = request.referrer if request.referrer and request.referrer.startswith(
        request.host_url) else url_for("main.index")
    response = make_response(redirect(target))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True, secure=current_app.config["PRODUCTION"])
    return response


@bp.route("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise (for monitoring)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means unhealthy
        current_app.logger.exception("health check failed")
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


# status → (title, message) of the error page; every page says nothing of internals.
ERRORS = {
    403: (_l("没有权限"), _l("您没有权限执行这个操作。如需办理，请联系本单位负责人或系统管理员。")),
    404: (_l("页面不存在"), _l("您要找的页面不存在，可能已被删除或地址有误。")),
    500: (_l("系统出错"), _l("系统处理您的请求时出错，您的数据没有被修改。"
                         "请稍后再试；如仍出错，请联系系统管理员。")),
    413: (_l("文件过大"), _l("上传的内容过大，没有保存任何内容。台账文件请不要超过 10 MB，"
                         "较大的台账请拆分后分批导入。")),
    503: (_l("系统繁忙"), _l("系统正忙于处理其他人的保存，您的这次提交没有保存。"
                         "请稍等几秒后返回上一页再提交一次。")),
    "csrf": (_l("页面已过期"), _l("表单已过期或来源无法验证，没有保存任何内容。"
                              "请返回上一页，刷新后重新提交。")),
    "csrf_kept": (_l("页面已过期"),
                  _l("页面打开太久已过期，这次提交没有保存。您填写的内容保留在下面。")),
}


def _error(key, status: int):
    title, message = ERRORS[key]
    return render_template("errors/error.html", title=title, message=message), status


@bp.app_errorhandler(403)
def forbidden(_e):
    """Chinese 403 page; the denial goes to the security log."""
    security_event("denied", user=getattr(current_user, "username", ""),
                   method=request.method, path=request.path)
    return _error(403, 403)


@bp.app_errorhandler(404)
def not_found(_e):
    """Chinese 404 page."""
    return _error(404, 404)


@bp.app_errorhandler(413)
def too_large(_e):
    """Chinese page for an upload over the request size limit."""
    return _error(413, 413)


def _same_origin() -> bool:
    """True when the refused form was posted from a page of this site (Origin, else
    Referer): only then is it offered for sending again."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and urlsplit(source).netloc == request.host


@bp.app_errorhandler(CSRFError)
def csrf_error(_e):
    """Expired or missing CSRF token: explain, do not write, and keep what was typed.
    A form of this site is offered for sending again (with a fresh token, by the
    user's click); a request from elsewhere only shows its text."""
    security_event("csrf_refused", user=getattr(current_user, "username", ""),
                   method=request.method, path=request.path)
    fields, texts = kept_form()
    resend = request.method == "POST" and bool(fields) and _same_origin() \
        and current_user.is_authenticated
    title, message = ERRORS["csrf_kept" if resend else "csrf"]
    return render_template("errors/kept_form.html", title=title, message=message,
                           fields=fields if resend else [], texts=texts), 400


@bp.app_errorhandler(OperationalError)
def database_busy(error):
    """A write that waited too long for another's lock: "系统繁忙" (503), nothing saved;
    any other database failure is a 500."""
    db.session.rollback()
    g.reads_only = True  # the page itself must not queue for the write lock again
    if not is_busy(error):
        current_app.logger.error("database error", exc_info=error)
        return _error(500, 500)
    current_app.logger.warning("database busy: %s %s", request.method, request.path)
    response = make_response(_error(503, 503))
    response.headers["Retry-After"] = "5"
    return response


@bp.app_errorhandler(500)
def server_error(_e):
    """Chinese 500 page, no traceback."""
    db.session.rollback()
    return _error(500, 500)
