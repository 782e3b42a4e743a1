"""Text search over projects: a bigram index of each project's name and investor, so a
substring search (恒源, SK, 光伏组件) reads a few index entries instead of scanning every
project with LIKE '%词%'. Plain tables and SQL, the same on SQLite and PostgreSQL.
"""
from sqlalchemy import delete, func, insert, or_, select

from crm.extensions import db, driver_executemany
from crm.models import Project, ProjectToken
from crm.text import contains_pattern, normalize

# Separates the fields in Project.search_text so a match never spans two fields.
FIELD_SEPARATOR = "\x1f"


def search_text(name: str | None, company_name: str | None) -> str:
    """What a project is found by: its normalised name and investor."""
    return normalize(name) + FIELD_SEPARATOR + normalize(company_name)


def bigrams(text: str) -> set[str]:
    """The two-character pieces of each field of ``text``."""
    return {part[i:i + 2] for part in text.split(FIELD_SEPARATOR)
            for i in range(len(part) - 1)}


def sync_tokens(project_id: int, text: str) -> None:
    """Replace the index entries of one project (add and flush, never commit)."""
    db.session.execute(delete(ProjectToken).where(ProjectToken.project_id == project_id))
    insert_tokens([(project_id, text)])


def insert_tokens(projects: list[tuple[int, str]]) -> None:
    """Index new projects ((id, search text) each): the table, not the ORM entity, bound
    by the driver a chunk of rows at a time (a bulk create's ~20 rows a project)."""
    driver_executemany(db.session.connection(), insert(ProjectToken.__table__),
                       ("token", "project_id"),
                       ((g, pid) for pid, text in projects for g in sorted(bigrams(text))))


def match_condition(query: str):
    """SQL condition: the project's name or investor contains ``query`` (ignoring case,
    width and spaces), or its code starts with it; None for a blank query.

    Every bigram of the query must be indexed for the project, then the normalised text
    confirms the exact substring. A one-character query has no bigram and scans.
    """
    key = normalize(query)
    if not key:
        return None
    contains = Project.search_text.like(contains_pattern(key), escape="\\")
    grams = bigrams(key)
    if grams:
        candidates = (select(ProjectToken.project_id)
                      .where(ProjectToken.token.in_(sorted(grams)))
                      .group_by(ProjectToken.project_id)
                      .having(func.count() == len(grams)))
        contains = Project.id.in_(candidates) & contains
    code = query.strip().upper()
    # Codes (P2024-0012) are ASCII: a range on the unique index finds a prefix.
    return or_(contains, (Project.code >= code) & (Project.code < code + "\uffff"))
