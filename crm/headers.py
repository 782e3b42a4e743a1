"""Response headers every page carries (OWASP ASVS 3.4, 14.3.2): a Content-Security-Policy
without inline scripts or styles, nosniff, no framing, a same-origin referrer, and
``Cache-Control: no-store`` on whatever a signed-in user sees (pages and downloads, not
the static files); and a request id, shown on error pages and sent as X-Request-Id so a
user's report can be found in the log."""
import uuid

from flask import Flask, g, request
from flask_login import current_user

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",            # no inline <script> and no on…= handlers
    "style-src 'self'",             # no style="…" attributes either
    "img-src 'self' data:",         # ECharts' "save as image" builds a data: URL
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",      # frame-ancestors for browsers without CSP 2
    "Referrer-Policy": "same-origin",
}


def request_id() -> str:
    """This request's id (12 hex digits), made on first use."""
    if "request_id" not in g:
        g.request_id = uuid.uuid4().hex[:12]
    return g.request_id


def init_app(app: Flask) -> None:
    """Add the headers to every response."""

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["X-Request-Id"] = request_id()
        if request.endpoint != "static" and current_user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response

    app.jinja_env.globals["request_id"] = request_id
