"""The form for one annual target (招商任务)."""
from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from crm.forms import StrictForm
from crm.i18n import format_number
from crm.targets.services import MAX_YEAR, MIN_YEAR


class ValueField(DecimalField):
    """A decimal shown plainly: 20, not 20.00 (as typed when the form comes back)."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return format_number(self.data)


class TargetForm(StrictForm):
    """Create or edit a target; choices are filled by the route (inactive units and
    regions only when already chosen). The service checks the rules between fields."""

    year = IntegerField(_l("年度"), validators=[
        InputRequired(message=_l("请填写")),
        NumberRange(min=MIN_YEAR, max=MAX_YEAR,
                    message=_l("应在 %(min)s 到 %(max)s 之间"))])
    unit_id = SelectField(_l("责任单位"), coerce=int)
    metric = SelectField(_l("指标"))
    region_id = SelectField(_l("来源地"), coerce=int)
    value = ValueField(_l("目标值"), validators=[InputRequired(message=_l("请填写"))])
