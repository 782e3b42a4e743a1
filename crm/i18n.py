"""Language choice and display helpers: translated labels, amounts in 亿元 / 万美元,
milestone dates with their precision. Registered as Jinja filters by init_app.
"""
from decimal import Decimal

from flask import current_app, has_request_context, request
from flask_babel import format_datetime, get_locale, gettext

from crm.lifecycle import RuleError
from crm.models import WAN_PER_YI

LANG_COOKIE = "lang"


def select_locale() -> str:
    """Return the user's chosen language (cookie), else Chinese (also for the CLI)."""
    lang = request.cookies.get(LANG_COOKIE) if has_request_context() else None
    if lang in current_app.config["LANGUAGES"]:
        return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def rule_message(error: RuleError) -> str:
    """Translate a lifecycle/service rule error, translating its field labels too."""
    params = {k: gettext(v) for k, v in error.params.items()}
    return gettext(error.message, **params)


def _plain(value: Decimal) -> str:
    """Format a Decimal without exponent or trailing zeros: 12.50 → 12.5."""
    text = format(value.quantize(Decimal("0.0001")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(amount: Decimal | None, currency: str) -> str:
    """Show an amount stored in 万: CNY as 亿元, USD as 万美元; blank when unknown."""
    if amount is None:
        return ""
    if currency == "USD":
        return gettext("%(n)s 万美元", n=_plain(amount))
    return gettext("%(n)s 亿元", n=_plain(amount / WAN_PER_YI))


def format_number(value: Decimal | None) -> str:
    """Show a Decimal plainly (no exponent, no trailing zeros); blank for None."""
    return "" if value is None else _plain(value)


def init_app(app) -> None:
    """Register the display filters and the translation helper for templates."""
    app.jinja_env.filters["amount"] = format_amount
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["datetime"] = (
        lambda v: format_datetime(v, "yyyy-MM-dd HH:mm") if v else "")
    app.jinja_env.filters["rule_message"] = rule_message
    app.jinja_env.filters["default_dash"] = lambda text: text if text.strip() else "—"
    from crm.lifecycle import STAGE_LABELS, STATUS_LABELS
    from crm.models import COMPANY_NATURE_LABELS, ROLE_LABELS, VISIT_KIND_LABELS
    app.jinja_env.globals.update(stage_labels=STAGE_LABELS, status_labels=STATUS_LABELS,
                                 role_labels=ROLE_LABELS, nature_labels=COMPANY_NATURE_LABELS,
                                 visit_kind_labels=VISIT_KIND_LABELS,
                                 get_locale=get_locale)


def amount_text(amount: Decimal | None, currency: str) -> str:
    """An amount as stored data text (not translated): ``12.5 亿元`` / ``300 万美元``."""
    if amount is None:
        return ""
    if currency == "USD":
        return f"{_plain(amount)} 万美元"
    return f"{_plain(amount / WAN_PER_YI)} 亿元"
