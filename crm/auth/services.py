"""User administration: create and update users (add and flush, never commit)."""
from sqlalchemy import func, select

from crm.auth.passwords import password_problem
from crm.errors import RulesBroken
from crm.extensions import db
from crm.lifecycle import N_, RuleError
from crm.models import ADMIN, OFFICER, ROLES, Unit, User


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, else None."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def _check(username: str, role: str, unit: Unit | None, exclude_id: int | None) -> None:
    errors = []
    if role not in ROLES:
        errors.append(RuleError("role", N_("角色：无效的选择")))
    if role == OFFICER and unit is None:
        errors.append(RuleError("unit_id", N_("所属单位：招商专员必须属于一个单位")))
    taken = db.session.scalar(select(func.count()).select_from(User).where(
        User.username == username, User.id != (exclude_id or 0)))
    if taken:
        errors.append(RuleError("username", N_("用户名：已被使用")))
    if errors:
        raise RulesBroken(errors)


def _check_password(password: str, *user_inputs: str) -> None:
    problem = password_problem(password, list(user_inputs)) if password else N_("密码：请填写")
    if problem:
        raise RulesBroken([RuleError("password", problem)])


def create_user(username: str, display_name: str, role: str, password: str,
                unit: Unit | None = None, issued: bool = False) -> User:
    """Create a user with a hashed password that meets the policy. ``issued``: the
    password was chosen by an administrator, so the user must change it at first
    sign-in."""
    username = username.strip()
    _check(username, role, unit, None)
    display_name = display_name.strip() or username
    _check_password(password, username, display_name)
    user = User(username=username, display_name=display_name, role=role, unit=unit,
                active=True, must_change_password=issued)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, username: str, display_name: str, role: str,
                unit: Unit | None, active: bool, password: str | None,
                acting: User) -> User:
    """Change a user's details; an admin cannot demote or disable themself. A password
    set for someone else is an issued one: they must change it at their next sign-in."""
    username = username.strip()
    _check(username, role, unit, user.id)
    if user.id == acting.id and (role != ADMIN or not active):
        raise RulesBroken([RuleError("role", N_("角色：不能降低或停用自己的管理员账号"))])
    if password:
        _check_password(password, username, display_name.strip())
    user.username, user.display_name = username, display_name.strip()
    user.role, user.unit, user.active = role, unit, active
    if password:
        user.set_password(password)
        user.must_change_password = user.id != acting.id
    if password or not active:
        user.end_sessions()     # signed out everywhere: the old password is no key
    db.session.flush()
    return user


def change_own_password(user: User, current: str, new: str) -> None:
    """The user replaces their password: the current one must be right and the new one
    different and within the policy. Their other sessions end."""
    if not user.check_password(current):
        raise RulesBroken([RuleError("current_password", N_("当前密码：不正确"))])
    if new == current:
        raise RulesBroken([RuleError("password", N_("新密码：不能与当前密码相同"))])
    _check_password(new, user.username, user.display_name)
    user.set_password(new)
    user.must_change_password = False
    user.end_sessions()
    db.session.flush()
