"""Reference data that admins maintain: units, source regions, industries, settings."""
from flask import Blueprint

bp = Blueprint("reference", __name__)

from crm.reference import routes  # noqa: E402,F401
