"""User administration: create and update users (add and flush, never commit)."""
from sqlalchemy import func, select

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


def create_user(username: str, display_name: str, role: str, password: str,
                unit: Unit | None = None) -> User:
    """Create a user with a hashed password."""
    username = username.strip()
    _check(username, role, unit, None)
    if not password:
        raise RulesBroken([RuleError("password", N_("密码：请填写"))])
    user = User(username=username, display_name=display_name.strip() or username,
                role=role, unit=unit, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, username: str, display_name: str, role: str,
                unit: Unit | None, active: bool, password: str | None,
                acting: User) -> User:
    """Change a user's details; an admin cannot demote or disable themself."""
    username = username.strip()
    _check(username, role, unit, user.id)
    if user.id == acting.id and (role != ADMIN or not active):
        raise RulesBroken([RuleError("role", N_("角色：不能降低或停用自己的管理员账号"))])
    user.username, user.display_name = username, display_name.strip()
    user.role, user.unit, user.active = role, unit, active
    if password:
        user.set_password(password)
    if password or not active:
        user.end_sessions()     # signed out everywhere: the old password is no key
    db.session.flush()
    return user
