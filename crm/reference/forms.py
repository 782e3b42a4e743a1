"""Forms for editing reference data and settings."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.forms import StrictForm


class ReferenceItemForm(StrictForm):
    """A unit or industry: name, order, active."""

    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=50)])
    sort_order = IntegerField(_l("排序"), default=0,
                              validators=[Optional(), NumberRange(min=0, max=100000)])
    active = BooleanField(_l("启用"), default=True)


class RegionForm(ReferenceItemForm):
    """A source region with its roll-up group."""

    parent_id = SelectField(_l("上级分组"), coerce=int)


class SettingsForm(StrictForm):
    """Admin-set values."""

    usd_rate = DecimalField(_l("美元兑人民币汇率"), places=4,
                            validators=[DataRequired(), NumberRange(min=0.01, max=100)])
