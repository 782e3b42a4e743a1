"""Who may do what: the one place that decides.

Officers read every project and change only those of their own unit; leaders read
everything; admins do everything (DESIGN.md §3 Visibility).
"""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from crm.models import ADMIN, LEADER, OFFICER

READ = "read"                      # any project, list, detail
CREATE_PROJECT = "create_project"
EDIT_PROJECT = "edit_project"      # edit fields, advance stage, hold/drop/resume
CORRECT_STAGE = "correct_stage"    # move a project back (a correction)
LOG_VISIT = "log_visit"            # any company, for the user's own unit
EDIT_VISIT = "edit_visit"          # a visit of the user's unit; complete its follow-up
EDIT_COMPANY = "edit_company"      # investors and their contacts: shared by all units
CLOSE_ISSUE = "close_issue"        # 销号: the unit that must act or the project's unit
WRITE_INSTRUCTION = "write_instruction"  # 领导批示: leaders
ACK_INSTRUCTION = "ack_instruction"  # the project's officer or unit has read it
IMPORT_LEDGER = "import_ledger"    # upload a ledger; an import job is its uploader's
MANAGE_USERS = "manage_users"
MANAGE_REFERENCE = "manage_reference"  # units, regions, industries, settings


def can(user, action: str, obj=None) -> bool:
    """Return True when ``user`` may perform ``action`` (on ``obj`` when given)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.role == ADMIN:
        return True
    if action == READ:
        return True
    if action == WRITE_INSTRUCTION:
        return user.role == LEADER
    if user.role != OFFICER or user.unit_id is None:
        return False
    if action in (CREATE_PROJECT, EDIT_COMPANY, LOG_VISIT):
        return True
    if action == IMPORT_LEDGER:
        return obj is None or obj.user_id == user.id
    if action in (EDIT_PROJECT, EDIT_VISIT):
        return obj is None or obj.unit_id == user.unit_id
    if action == CLOSE_ISSUE:
        return obj is None or user.unit_id in (obj.acting_unit_id, obj.project.unit_id)
    if action == ACK_INSTRUCTION:
        return obj is None or obj.project.unit_id == user.unit_id \
            or obj.project.officer_id == user.id
    return False


def ensure(action: str, obj=None) -> None:
    """Abort with 403 unless the current user may perform ``action`` on ``obj``."""
    if not can(current_user, action, obj):
        abort(403)


def require(action: str):
    """Route decorator: sign-in required, then ``action`` allowed (without an object)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            ensure(action)
            return view(*args, **kwargs)
        return wrapped
    return decorator
