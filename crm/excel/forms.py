"""Forms of the ledger import: the upload, checking again (another sheet, new names
confirmed) and the commit with its choice of all-or-nothing or skipping bad rows."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField

from crm.forms import StrictForm

ALL_OR_NOTHING, SKIP_INVALID = "all", "skip"


class LedgerUploadForm(StrictForm):
    """The ledger file to import."""

    file = FileField(_l("台账文件（.xlsx）"), validators=[FileRequired(_l("请选择文件"))])


class ImportCheckForm(StrictForm):
    """Check the file again: another sheet, or with the new names confirmed."""

    sheet = SelectField(_l("工作表"), choices=[], validate_choice=False)
    confirm_new = BooleanField(_l("确认新增以上来源地、产业类别和责任单位"))


class ImportCommitForm(StrictForm):
    """Write the checked ledger."""

    mode = RadioField(_l("导入方式"), default=ALL_OR_NOTHING, choices=[
        (ALL_OR_NOTHING, _l("全部导入（有任何错误时不导入）")),
        (SKIP_INVALID, _l("跳过错误行，导入其余"))])
