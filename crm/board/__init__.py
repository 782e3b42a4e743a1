"""The pipeline board (看板): one column per stage, cards moved forward through the
stage gate."""
from flask import Blueprint

bp = Blueprint("board", __name__)

from crm.board import routes  # noqa: E402,F401
