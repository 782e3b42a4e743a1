"""The security log (MLPS 2.0, OWASP ASVS 16): sign-ins and their failures, lockouts and
sign-outs as one JSON object per line on the ``crm.security`` logger — when (UTC),
what, who, from where, which request. Never a password, cookie or token; JSON escapes
control characters, so a crafted user name cannot forge a line."""
import json
import logging
import logging.handlers

from flask import Flask, has_request_context, request

from crm.clock import utcnow
from crm.headers import request_id

logger = logging.getLogger("crm.security")


def init_app(app: Flask) -> None:
    """Send the log to SECURITY_LOG (a file, reopened when logrotate moves it) or else
    to standard error (gunicorn's error log), once per process."""
    logger.setLevel(logging.INFO)
    path = app.config.get("SECURITY_LOG") or ""
    if not any(getattr(h, "_crm_security", None) == path for h in logger.handlers):
        handler = (logging.handlers.WatchedFileHandler(path, encoding="utf-8") if path
                   else logging.StreamHandler())
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._crm_security = path
        logger.addHandler(handler)


def security_event(event: str, **fields) -> None:
    """Log ``event`` with ``fields`` (user names, counts: nothing secret)."""
    record = {"ts": utcnow().isoformat(timespec="seconds") + "Z", "event": event, **fields}
    if has_request_context():
        record.update(ip=request.remote_addr or "", request_id=request_id())
    line = json.dumps(record, ensure_ascii=False)
    for char in _LINE_BREAKS:   # JSON leaves them raw; some log readers break lines there
        line = line.replace(char, f"\\u{ord(char):04x}")
    logger.info(line)


# Line breaks beyond the control characters JSON escapes itself.
_LINE_BREAKS = ("\x85", "\u2028", "\u2029")
