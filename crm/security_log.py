"""The security log (MLPS 2.0, OWASP ASVS 16): sign-ins and their failures, lockouts and
sign-outs as one JSON object per line on the ``crm.security`` logger — when (UTC),
what, who, from where, which request. Never a password, cookie or token; JSON escapes
control characters, so a crafted user name cannot forge a line."""
import json
import logging

from flask import has_request_context, request

from crm.clock import utcnow
from crm.headers import request_id

logger = logging.getLogger("crm.security")


def security_event(event: str, **fields) -> None:
    """Log ``event`` with ``fields`` (user names, counts: nothing secret)."""
    record = {"ts": utcnow().isoformat(timespec="seconds") + "Z", "event": event, **fields}
    if has_request_context():
        record.update(ip=request.remote_addr or "", request_id=request_id())
    logger.info(json.dumps(record, ensure_ascii=False))
