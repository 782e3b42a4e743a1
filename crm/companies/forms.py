"""Forms for investor companies and their contacts, and the company list filters."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from crm.forms import StrictForm
from crm.models import COMPANY_NATURE_LABELS, COMPANY_NATURES


def nature_choices(blank):
    return [("", blank)] + [(n, _l(COMPANY_NATURE_LABELS[n])) for n in COMPANY_NATURES]


class CompanyForm(StrictForm):
    """Create or edit an investor company."""

    name = StringField(_l("投资方名称"), validators=[DataRequired(), Length(max=200)])
    credit_code = StringField(_l("统一社会信用代码"), validators=[Optional(), Length(max=30)])
    nature = SelectField(_l("企业性质"), choices=nature_choices("—"), default="")
    region_id = SelectField(_l("来源地"), coerce=int)
    hq_city = StringField(_l("总部城市"), validators=[Optional(), Length(max=50)])
    industry_id = SelectField(_l("产业类别"), coerce=int)
    website = StringField(_l("网站"), validators=[Optional(), Length(max=200)])
    notes = TextAreaField(_l("备注"), validators=[Optional(), Length(max=2000)])
    version = HiddenField(validators=[Optional(), Regexp(r"^\d*$")])


class ContactForm(StrictForm):
    """A person at a company."""

    name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=50)])
    title = StringField(_l("职务"), validators=[Optional(), Length(max=50)])
    phone = StringField(_l("电话"), validators=[
        Optional(), Length(max=50),
        Regexp(r"^[0-9+\-()（） ]+$", message=_l("只能包含数字、空格和 + - ( )"))])
    email = StringField(_l("电子邮箱"), validators=[
        Optional(), Length(max=120),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("不是有效的电子邮箱地址"))])


class CompanyFilterForm(FlaskForm):
    """The company list's filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("搜索"), validators=[Optional(), Length(max=100)])
    nature = SelectField(_l("企业性质"), choices=nature_choices(_l("全部性质")), default="")
    region = IntegerField(_l("来源地"), validators=[Optional()])
    industry = IntegerField(_l("产业类别"), validators=[Optional()])
    page = IntegerField(validators=[Optional()])
