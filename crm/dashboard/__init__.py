"""The leaders' dashboard (驾驶舱): tiles, charts, targets, rankings and watch lists."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from crm.dashboard import routes  # noqa: E402,F401
