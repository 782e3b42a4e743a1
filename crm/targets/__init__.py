"""Annual targets (招商任务) that admins set per year, unit (or 全区) and metric."""
from flask import Blueprint

bp = Blueprint("targets", __name__)

from crm.targets import routes  # noqa: E402,F401
