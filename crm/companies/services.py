"""Find or create investor companies by their normalised name."""
import unicodedata

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.models import Company


def normalize_name(name: str | None) -> str:
    """Return the matching form of a name or text: NFKC (full-width → ASCII), case-folded,
    no spaces, so ``ＳＫ　On`` and ``sk on`` are the same company."""
    return "".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def get_or_create_company(name: str) -> Company | None:
    """Return the company with this (normalised) name, creating it if new; None if blank."""
    key = normalize_name(name)
    if not key:
        return None
    stmt = select(Company).where(Company.name_key == key)
    company = db.session.scalar(stmt)
    if company is None:
        company = Company(name=name.strip(), name_key=key)
        try:
            with db.session.begin_nested():
                db.session.add(company)
        except IntegrityError:
            # Someone else created the same company meanwhile: use theirs.
            company = db.session.scalar(stmt)
    return company
