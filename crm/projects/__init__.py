"""Projects: the ledger, its lifecycle pages and forms."""
from flask import Blueprint

bp = Blueprint("projects", __name__)

from crm.projects import routes  # noqa: E402,F401
