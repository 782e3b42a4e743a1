"""Routes that belong to no domain: home, language, health; the error handlers."""
from flask import current_app, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import text

from crm.extensions import db
from crm.i18n import LANG_COOKIE
from crm.main import bp


@bp.route("/")
@login_required
def index():
    """Home page: the project ledger until the officer's home page exists."""
    return redirect(url_for("projects.index"))


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


def _error(code: int):
    return render_template(f"errors/{code}.html"), code


@bp.app_errorhandler(403)
def forbidden(_e):
    """Chinese 403 page."""
    return _error(403)


@bp.app_errorhandler(404)
def not_found(_e):
    """Chinese 404 page."""
    return _error(404)


@bp.app_errorhandler(CSRFError)
def csrf_error(_e):
    """Expired or missing CSRF token: explain, do not write."""
    return render_template("errors/csrf.html"), 400


@bp.app_errorhandler(500)
def server_error(_e):
    """Chinese 500 page, no traceback."""
    db.session.rollback()
    return _error(500)
