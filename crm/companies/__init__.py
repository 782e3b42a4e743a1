"""Investors (投资方 / 客商): company records with contacts, shared by projects and visits."""
from flask import Blueprint

bp = Blueprint("companies", __name__)

from crm.companies import routes  # noqa: E402,F401
