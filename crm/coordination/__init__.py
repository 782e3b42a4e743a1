"""Coordination issues (需协调事项) and leader instructions (领导批示) on projects."""
from flask import Blueprint

bp = Blueprint("coordination", __name__)

from crm.coordination import routes  # noqa: E402,F401
