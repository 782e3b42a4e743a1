"""Excel: the ledger (台账) in the bureau's own format — export now; import and the
monthly report (月报) to follow (DESIGN.md §3)."""
from flask import Blueprint

bp = Blueprint("excel", __name__)

from crm.excel import routes  # noqa: E402,F401
