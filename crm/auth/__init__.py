"""Sign-in, sign-out, user administration and the access policy."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from crm.auth import routes  # noqa: E402,F401
