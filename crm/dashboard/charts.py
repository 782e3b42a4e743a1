"""The dashboard's figures as the page shows them: each with the link to the project
list filtered to exactly its projects, and the charts' data for ECharts (JSON)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from flask import g, url_for
from flask_babel import gettext as _

from crm import lifecycle
from crm.dashboard import queries as q
from crm.projects.forms import filter_args
from crm.projects.queries import ProjectFilters
from crm.targets.queries import targets_for


def list_url(filters: ProjectFilters) -> str:
    """The project list showing exactly ``filters``. (The page has a few hundred links:
    the list's path is built once and the query string appended, ~20× faster.)"""
    args = filter_args(filters)
    path = g.get("project_list_path") or g.setdefault("project_list_path",
                                                      url_for("projects.index"))
    return f"{path}?{urlencode(args)}" if args else path


@dataclass
class Figure:
    """A number on the page and the list behind it."""

    totals: q.Totals
    url: str


def _yi(wan) -> float:
    return round(float(wan / q.WAN_PER_YI), 2)


def tiles(base: ProjectFilters, as_of: date) -> dict[str, dict[str, Figure]]:
    """{"month"|"year": {stage|"major": Figure}}: new milestones in as_of's month and
    year to date, and major (≥ 10亿元) signings."""
    out = {}
    for kind in ("month", "year"):
        p = q.period(kind, as_of)
        row = {s: Figure(t, list_url(q.reached_filters(base, s, p)))
               for s, t in q.milestone_tiles(base, p).items()}
        major = q.metric_filters(base, "major_signings", p)
        row["major"] = Figure(row[lifecycle.SIGNED].totals, list_url(major))
        out[kind] = row
    return out


def stage_figures(live: q.Pipeline, base: ProjectFilters, as_of: date
                  ) -> list[tuple[str, Figure]]:
    """The live pipeline by stage on as_of."""
    return [(s, Figure(t, list_url(q.pipeline_filters(base, as_of, s))))
            for s, t in live.by_stage().items()]


def funnel_chart(stages: list[tuple[str, Figure]]) -> list[dict]:
    """The funnel's pieces: count, combined 亿元 and the list behind each stage."""
    return [{"name": _(lifecycle.STAGE_LABELS[s]), "value": f.totals.count,
             "amount": _yi(f.totals.combined_wan), "url": f.url} for s, f in stages]


def breakdown_chart(b: q.Breakdown, base: ProjectFilters, as_of: date) -> dict:
    """A stacked bar per key, one series per stage; each bar links to its projects."""
    field = {"unit": "unit_id", "industry": "industry_id", "region": "region_id"}[b.dimension]
    keys = b.keys
    series = []
    for s in lifecycle.STAGES:
        data = []
        for key, _label in keys:
            t = b.cells.get(key, {}).get(s, q.Totals())
            f = q.pipeline_filters(replace(base, **{field: key}), as_of, s)
            # "No unit/industry" cannot be expressed as a list filter: no link.
            item = {"value": t.count, "url": list_url(f) if key is not None else None}
            if b.dimension != "region":  # counted per project, not summed per group
                item["amount"] = _yi(t.combined_wan)
            data.append(item)
        series.append({"name": _(lifecycle.STAGE_LABELS[s]), "stage": s, "data": data})
    return {"categories": [_(label) if key is None else label for key, label in keys],
            "series": series}


def monthly_chart(base: ProjectFilters, as_of: date) -> dict:
    """Signings and starts per month over the last 24 months."""
    months = q.monthly_series(base, as_of)
    series = []
    for s in (lifecycle.SIGNED, lifecycle.STARTED):
        data = []
        for first, cells in months:
            last = min(q.month_end(first.year, first.month), as_of)
            f = q.reached_filters(base, s, q.Period("month", first, last))
            data.append({"value": cells[s].count, "amount": _yi(cells[s].combined_wan),
                         "url": list_url(f)})
        series.append({"name": _(lifecycle.STAGE_LABELS[s]), "stage": s, "data": data})
    return {"categories": [first.strftime("%Y-%m") for first, _cells in months],
            "series": series}


def stalled(base: ProjectFilters, as_of: date) -> dict:
    """Counts by stage and level, with links, and the oldest stalled projects."""
    counts = q.stalled_counts(base, as_of)
    return {"counts": [(s, {level: Figure(q.Totals(count=n), list_url(
                             q.stalled_filters(base, as_of, level, s)))
                            for level, n in levels.items()})
                       for s, levels in counts.items()],
            "oldest": [(p, s, since, (as_of - since).days)
                       for p, s, since in q.stalled_list(base, as_of)],
            "all_url": list_url(q.stalled_filters(base, as_of, "any"))}


def ranking(base: ProjectFilters, p: q.Period, rank_by: str) -> list[tuple[q.RankRow, dict]]:
    """The unit ranking with a link behind every figure."""
    return [(row, {m: list_url(q.metric_filters(replace(base, unit_id=row.unit_id), m, p))
                   for m in q.RANKING_METRICS})
            for row in q.unit_ranking(base, p, rank_by)]


def targets(base: ProjectFilters, as_of: date) -> list[tuple[q.Completion, str]]:
    """The year's targets (the filtered unit's, or all) with completion and links."""
    rows = q.completion(targets_for(as_of.year, base.unit_id), as_of)
    return [(c, list_url(c.filters)) for c in rows]


def page(base: ProjectFilters, as_of: date, rank_period: str, rank_by: str) -> dict:
    """Everything the dashboard page shows."""
    live = q.pipeline(base, as_of)
    stages = stage_figures(live, base, as_of)
    p = q.period(rank_period, as_of)
    issue_count, issues = q.open_issues(base)
    return {
        "tiles": tiles(base, as_of), "pipeline": stages,
        "charts": {
            "funnel": funnel_chart(stages),
            "region": breakdown_chart(q.by_region(base, as_of), base, as_of),
            "industry": breakdown_chart(q.by_industry(base, as_of, live), base, as_of),
            "unit": breakdown_chart(q.by_unit(base, as_of, live), base, as_of),
            "monthly": monthly_chart(base, as_of)},
        "targets": targets(base, as_of), "pace": q.pace(as_of),
        "ranking": ranking(base, p, rank_by), "rank_period": p,
        "stalled": stalled(base, as_of),
        "major": q.major_projects(base, as_of),
        "major_url": list_url(replace(q.pipeline_filters(base, as_of), major=True)),
        "changes": q.latest_stage_changes(base),
        "issue_count": issue_count, "issues": issues,
    }
