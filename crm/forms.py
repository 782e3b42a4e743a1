"""Form base class shared by every blueprint: server-side validation that also
refuses fields the form does not declare (an injected role, stage or unit), and the
one way a route commits a service call and reports what went wrong.
"""
from flask import request
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import Conflict, RulesBroken
from crm.extensions import db
from crm.i18n import rule_message


class StrictForm(FlaskForm):
    """A FlaskForm that rejects submitted fields it does not declare."""

    conflict = False  # set when a save lost an optimistic-locking race
    # Names of fields that a companion form on the same page submits.
    companion_fields: frozenset = frozenset()

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        known = {f.name for f in self} | {"csrf_token"} | set(self.companion_fields)
        unknown = sorted(set(request.form) - known)
        if unknown:
            self.form_errors.append(
                gettext("不允许提交的字段：%(names)s", names="、".join(unknown)))
            ok = False
        return ok

    def error_messages(self) -> list[str]:
        """All errors as '字段：信息' lines, naming the field."""
        out = list(self.form_errors)
        for field in self:
            for message in field.errors:
                out.append(gettext("%(label)s：%(value)s", label=field.label.text,
                                   value=message))
        return out


# A refused form's texts shown back for copying: long enough to be worth keeping.
KEPT_MIN_LENGTH = 20


def kept_form() -> tuple[list[tuple[str, str]], list[str]]:
    """What the user typed into a form refused unsaved (an expired page or sign-in):
    the fields to post again (never the token or a password) and the longer texts to
    show for copying."""
    fields = [(name, value) for name, value in request.form.items(multi=True)
              if value.strip() and name != "csrf_token" and "password" not in name]
    # Prose, not keys or ids: long, with a space or a non-ASCII character.
    texts = [value for _name, value in fields if len(value.strip()) >= KEPT_MIN_LENGTH
             and (not value.isascii() or " " in value.strip())]
    return fields, texts


def form_status(form: StrictForm) -> int:
    """HTTP status of a page showing ``form``: 409 after a lost race, 400 with errors."""
    return 409 if form.conflict else (400 if form.errors else 200)


def commit_or_report(form: StrictForm, action) -> bool:
    """Run a service call and commit; on broken rules or a lost race roll back, put
    the reasons on ``form`` and return False, so nothing is half-written."""
    try:
        action()
        db.session.commit()
        return True
    except RulesBroken as exc:
        db.session.rollback()
        form.form_errors.extend(rule_message(e) for e in exc.errors)
    except (Conflict, StaleDataError):
        db.session.rollback()
        _report_conflict(form)
    return False


def _report_conflict(form: StrictForm) -> None:
    form.conflict = True
    form.form_errors.append(gettext("已被他人修改：您打开页面后有人保存了这个项目。"
                                    "请刷新页面，查看最新内容后重新修改。"))


def is_stale(form: StrictForm, record) -> bool:
    """True, with the conflict reported on ``form``, when a submitted form was based on
    an older version of ``record`` than the one stored (checked before validation, so
    the user hears about the real cause rather than a choice that no longer applies)."""
    submitted = form.version.data if form.is_submitted() else None
    if submitted and str(submitted) != str(record.version):
        _report_conflict(form)
        return True
    return False
