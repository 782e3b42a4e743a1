"""Routes for signing in and out and for the users admin pages."""
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from crm.auth import bp, policy, throttle
from crm.auth.forms import LoginForm, PasswordChangeForm, UserForm
from crm.auth.services import authenticate, change_own_password, create_user, update_user
from crm.forms import commit_or_report, form_status, kept_form
from crm.extensions import db, login_manager
from crm.models import Unit, User
from crm.redirects import safe_next
from crm.security_log import security_event
from crm.reference.queries import units_stmt


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user of a session's "id-token" (User.get_id): none when the user's
    token changed since (signed out elsewhere, new password, disabled)."""
    ident, _sep, token = user_id.partition("-")
    user = db.session.get(User, int(ident)) if ident.isdigit() else None
    if user is None or user.session_token != token:
        return None
    return user


@bp.before_app_request
def session_timeouts():
    """End a session idle for SESSION_IDLE_MINUTES or older than SESSION_MAX_HOURS
    (OWASP ASVS 7.3): the user signs in again and comes back to the page."""
    if not current_user.is_authenticated or request.endpoint == "static":
        return None
    now = int(time.time())
    config = current_app.config
    started, seen = session.get("login_at"), session.get("seen_at", 0)
    if (started is None or now - started > config["SESSION_MAX_HOURS"] * 3600
            or now - seen > config["SESSION_IDLE_MINUTES"] * 60):
        security_event("session_expired", user=current_user.username)
        logout_user()
        session.clear()
        texts = kept_form()[1] if request.method == "POST" else []
        if texts:   # a long write-up sent too late: give the text back, unsaved
            return render_template(
                "errors/kept_form.html", title=_("登录已超时"), fields=[], texts=texts,
                message=_("您长时间没有操作，登录已超时，这次提交没有保存。"
                          "请复制下面的文字，重新登录后再填写。")), 401
        flash(_("登录已超时，请重新登录"), "info")
        return redirect(url_for("auth.login", next=request.full_path
                                if request.method == "GET" else None))
    if now - seen > 60:         # not a new cookie on every request
        session["seen_at"] = now
    return None


# What a user who must first change their password may still reach.
BEFORE_PASSWORD_CHANGE = frozenset(
    {"auth.change_password", "auth.logout", "main.lang", "main.healthz", "static"})


@bp.before_app_request
def password_change_first():
    """A user signed in with an administrator-issued password chooses their own before
    anything else (nothing else is served, nothing written)."""
    if (current_user.is_authenticated and current_user.must_change_password
            and request.endpoint not in BEFORE_PASSWORD_CHANGE):
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        name, address = form.username.data, request.remote_addr or ""
        wait = throttle.locked_minutes(name, address)
        # Checked before the password: while locked, no guess is tried at all.
        user = authenticate(name, form.password.data) if not wait else None
        if user is not None:
            throttle.clear_failures(name, address)
            db.session.commit()
            _sign_in(user)
            security_event("login", user=user.username)
            return redirect(safe_next(form.next.data, url_for("main.index")))
        if wait:
            security_event("login_locked", user=name, minutes=wait)
            # The same words for every account name: no hint whether it exists.
            form.form_errors.append(_("登录失败次数过多，请 %(minutes)s 分钟后再试", minutes=wait))
            return render_template("auth/login.html", form=form), 429
        throttle.record_failure(name, address)
        db.session.commit()
        security_event("login_failed", user=name,
                       failures=throttle.failures(name, address))
        # One message for an unknown user and a wrong password.
        form.form_errors.append(_("用户名或密码错误"))
    return render_template("auth/login.html", form=form), (200 if not form.errors else 400)


def _sign_in(user: User) -> None:
    """A fresh session for ``user`` (Flask-Login's), stamped for the time-outs."""
    session.clear()
    login_user(user)
    session["login_at"] = session["seen_at"] = int(time.time())


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign the user out everywhere (POST only, CSRF-protected): every session of the
    user ends, on other computers too."""
    if current_user.is_authenticated:
        security_event("logout", user=current_user.username)
        current_user.end_sessions()
        db.session.commit()
    logout_user()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """The user changes their own password; their sessions elsewhere end, this one
    goes on."""
    form, user = PasswordChangeForm(), current_user._get_current_object()
    if form.validate_on_submit() and commit_or_report(form, lambda: change_own_password(
            user, form.current_password.data, form.password.data)):
        security_event("password_changed", user=user.username)
        _sign_in(user)
        flash(_("密码已修改；其他电脑上的登录已退出"), "success")
        return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form,
                           forced=user.must_change_password), form_status(form)


def _unit_choices():
    return [(0, "—")] + [(u.id, u.name) for u in db.session.scalars(units_stmt())]


@bp.route("/users/")
@policy.require(policy.MANAGE_USERS)
def index():
    """List all users."""
    users = db.session.scalars(
        select(User).options(db.joinedload(User.unit)).order_by(User.role, User.username))
    return render_template("auth/index.html", users=users)


def _save_user(form: UserForm, user: User | None):
    unit = db.session.get(Unit, form.unit_id.data) if form.unit_id.data else None
    if user is None:
        return create_user(form.username.data, form.display_name.data, form.role.data,
                           form.password.data, unit, issued=True)
    return update_user(user, form.username.data, form.display_name.data, form.role.data,
                       unit, form.active.data, form.password.data, current_user)


@bp.route("/users/new", methods=["GET", "POST"])
@policy.require(policy.MANAGE_USERS)
def create():
    """Create a user."""
    return _user_form(None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@policy.require(policy.MANAGE_USERS)
def edit(user_id: int):
    """Edit a user: details, role, unit, password, enabled."""
    return _user_form(db.get_or_404(User, user_id))


def _user_form(user: User | None):
    form = UserForm(obj=user)
    form.unit_id.choices = _unit_choices()
    if request.method == "GET" and user is not None:
        form.unit_id.data = user.unit_id or 0
    before = (user.role, user.active) if user is not None else None
    saved = []
    if form.validate_on_submit():
        if commit_or_report(form, lambda: saved.append(_save_user(form, user))):
            _log_user_change(saved[0], before, bool(form.password.data))
            if user is not None and user.id == current_user.id and form.password.data:
                _sign_in(user)      # their own new password: stay signed in here
            flash(_("用户已保存"), "success")
            return redirect(url_for("auth.index"))
    status = form_status(form)
    return render_template("auth/edit.html", form=form, user=user), status


def _log_user_change(user: User, before: tuple | None, password: bool) -> None:
    """A new user, or a changed role, enabled state or password, to the security log."""
    changes = ["created"] if before is None else [
        what for what, changed in (("role", before[0] != user.role),
                                   ("active", before[1] != user.active)) if changed]
    if password and before is not None:
        changes.append("password")
    if changes:
        security_event("user_changed", user=current_user.username, target=user.username,
                       changes=changes, role=user.role, active=user.active)


@bp.app_context_processor
def inject_policy():
    """Templates ask the policy too: ``can('close_issue', issue)``."""
    return {"can": lambda action, obj=None: policy.can(current_user, action, obj)}
