"""The pipeline board page: the project list's filters, one column per stage."""
from flask import render_template, request
from flask_login import login_required

from crm.auth.queries import user_choices
from crm.board import bp
from crm.board.queries import CARDS_PER_COLUMN, board_columns, board_filters
from crm.clock import today
from crm.extensions import db
from crm.projects.forms import ProjectFilterForm
from crm.projects.queries import ProjectFilters
from crm.reference.queries import industries_stmt, region_choices, units_stmt

# Query-string names of the list that mean nothing on the board: every column is a stage,
# the board is today's pipeline, and it neither sorts nor pages.
IGNORED_ARGS = ("stage", "as_of", "sort", "page")
# Filters the board applies without showing a control for them (they come from links,
# e.g. the dashboard's): kept as hidden inputs so changing a select keeps them.
HIDDEN_ARGS = ("milestone", "since", "until", "stalled")


@bp.route("/")
@login_required
def index():
    """The pipeline board: the live projects the filters select, by stage."""
    args = request.args.copy()
    for name in IGNORED_ARGS:
        args.poplist(name)
    form = ProjectFilterForm(args)
    form.validate()
    # Invalid filter values are shown as errors and ignored, never half-applied.
    filters = form.to_filters() if not form.errors else ProjectFilters()
    day = today()
    return render_template(
        "board/index.html", form=form, today=day,
        columns=board_columns(board_filters(filters), day),
        cards_per_column=CARDS_PER_COLUMN,
        # The filters to carry into a column's project list and back from the gate.
        list_args={k: v for k, v in args.items() if k in form and v} if not form.errors
        else {},
        hidden_args={k: args[k] for k in HIDDEN_ARGS if args.get(k)},
        board_url=request.full_path.rstrip("?"),
        regions=region_choices(),
        industries=[(i.id, i.name) for i in db.session.scalars(industries_stmt())],
        units=[(u.id, u.name) for u in db.session.scalars(units_stmt())],
        users=user_choices())
