"""Forms for editing reference data and settings."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.forms import StrictForm
from crm.lifecycle import STALLED_LABELS


class ReferenceItemForm(StrictForm):
    """A unit or industry: name, order, active."""

    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=50)])
    sort_order = IntegerField(_l("排序"), default=0,
                              validators=[Optional(), NumberRange(min=0, max=100000)])
    active = BooleanField(_l("启用"), default=True)


class RegionForm(ReferenceItemForm):
    """A source region with its roll-up group."""

    parent_id = SelectField(_l("上级分组"), coerce=int)


def _days(label):
    return IntegerField(label, validators=[DataRequired(), NumberRange(min=1, max=3650)])


class SettingsForm(StrictForm):
    """Admin-set values: the USD rate and the stalled thresholds (days)."""

    usd_rate = DecimalField(_l("美元兑人民币汇率"), places=4,
                            validators=[DataRequired(), NumberRange(min=0.01, max=100)])
    signed_yellow = _days(_l("已签约未开工：黄灯（天）"))
    signed_red = _days(_l("已签约未开工：红灯（天）"))
    started_yellow = _days(_l("已开工未投产：黄灯（天）"))
    started_red = _days(_l("已开工未投产：红灯（天）"))
    producing_yellow = _days(_l("已投产未达产：黄灯（天）"))
    producing_red = _days(_l("已投产未达产：红灯（天）"))
    lead_yellow = _days(_l("在谈久未跟进：黄灯（天）"))
    lead_red = _days(_l("在谈久未跟进：红灯（天）"))

    def load_thresholds(self, thresholds: dict[str, tuple[int, int]]) -> None:
        """Show the current thresholds."""
        for stage, (yellow, red) in thresholds.items():
            self[f"{stage}_yellow"].data, self[f"{stage}_red"].data = yellow, red

    def thresholds(self) -> dict[str, tuple[int, int]]:
        """The thresholds as typed: stage → (yellow, red)."""
        return {stage: (self[f"{stage}_yellow"].data, self[f"{stage}_red"].data)
                for stage in STALLED_LABELS}
