"""Forms for signing in and for administering users."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from crm.forms import StrictForm
from crm.models import ROLE_LABELS, ROLES


class LoginForm(StrictForm):
    """Username and password."""

    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=50)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])
    next = StringField(validators=[Optional(), Length(max=500)])


class UserForm(StrictForm):
    """Create or edit a user (admin only)."""

    username = StringField(_l("用户名"), validators=[
        DataRequired(), Length(max=50),
        Regexp(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]+$", message=_l("只能包含字母、数字、汉字和 _ . -"))])
    display_name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=50)])
    role = SelectField(_l("角色"), choices=[(r, _l(ROLE_LABELS[r])) for r in ROLES])
    unit_id = SelectField(_l("所属单位"), coerce=int)
    # The policy (crm/auth/passwords.py) is checked by the service.
    password = PasswordField(_l("密码"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("启用"), default=True)


class PasswordChangeForm(StrictForm):
    """The signed-in user replaces their own password."""

    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(max=200)])
    password_again = PasswordField(_l("再次输入新密码"), validators=[
        DataRequired(), EqualTo("password", message=_l("两次输入的新密码不一致"))])
