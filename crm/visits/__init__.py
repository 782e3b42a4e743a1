"""Visits (走访记录): the officer's daily log of visits, calls and receptions, their
follow-ups and trips."""
from flask import Blueprint

bp = Blueprint("visits", __name__)

from crm.visits import routes  # noqa: E402,F401
