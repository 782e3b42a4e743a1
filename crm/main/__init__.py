"""Home page, language switch, health check and error pages."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from crm.main import routes  # noqa: E402,F401
