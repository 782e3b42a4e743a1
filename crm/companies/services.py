"""Investor companies and their contacts: find-or-create by normalised name, create and
edit with the change history (add and flush, never commit)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from crm.companies.credit_code import is_valid_credit_code, normalize_credit_code
from crm.errors import Conflict, RulesBroken
from crm.extensions import db
from crm.history import record_change, record_diff
from crm.lifecycle import N_, RuleError
from crm.text import normalize as normalize_name
from crm.models import COMPANY_NATURE_LABELS, Company, Contact, Industry, Project, Region, User

FIELD_LABELS = {
    "name": N_("投资方名称"), "credit_code": N_("统一社会信用代码"), "nature": N_("企业性质"),
    "region": N_("来源地"), "hq_city": N_("总部城市"), "industry": N_("产业类别"),
    "website": N_("网站"), "notes": N_("备注"), "created": N_("创建"),
    "contact": N_("联系人"),
}


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


def get_or_create_companies(names: list[str]) -> dict[str, Company]:
    """The companies of these names by normalised name, the new ones inserted in one
    executemany and read back (a bulk create; get_or_create_company is the
    one-at-a-time way)."""
    wanted = {}
    for name in names:
        key = normalize_name(name)
        if key and key not in wanted:
            wanted[key] = name.strip()

    def read(keys):
        for i in range(0, len(keys), 500):
            found.update((c.name_key, c) for c in db.session.scalars(
                select(Company).where(Company.name_key.in_(keys[i:i + 500]))))

    found: dict[str, Company] = {}
    read(list(wanted))
    new = [k for k in wanted if k not in found]
    if new:
        db.session.execute(insert(Company.__table__),
                           [{"name": wanted[k], "name_key": k} for k in new])
        read(new)
    return found


@dataclass
class CompanyData:
    """A company's editable details as submitted."""

    name: str
    credit_code: str = ""
    nature: str = ""
    region_id: int | None = None
    hq_city: str = ""
    industry_id: int | None = None
    website: str = ""
    notes: str = ""


def _snapshot(company: Company) -> dict[str, str]:
    return {
        "name": company.name, "credit_code": company.credit_code or "",
        "nature": COMPANY_NATURE_LABELS.get(company.nature, ""),
        "region": company.region.name if company.region else "",
        "hq_city": company.hq_city, "industry": company.industry.name if company.industry else "",
        "website": company.website, "notes": company.notes,
    }


def _apply(company: Company, data: CompanyData) -> None:
    errors: list[RuleError] = []
    name = data.name.strip()
    key = normalize_name(name)
    if not key:
        errors.append(RuleError("name", N_("投资方名称：请填写")))
    else:
        other = db.session.scalar(select(Company).where(Company.name_key == key,
                                                        Company.id != (company.id or 0)))
        if other is not None:
            errors.append(RuleError("name", N_("投资方名称：已有同名投资方「%(other)s」"),
                                    {"other": other.name}))
    code = normalize_credit_code(data.credit_code)
    if code:
        if not is_valid_credit_code(code):
            errors.append(RuleError("credit_code", N_(
                "统一社会信用代码：应为 18 位，且校验位正确（不含 I、O、S、V、Z）")))
        else:
            other = db.session.scalar(select(Company).where(
                Company.credit_code == code, Company.id != (company.id or 0)))
            if other is not None:
                errors.append(RuleError("credit_code", N_(
                    "统一社会信用代码：已被「%(other)s」使用"), {"other": other.name}))
    if data.nature and data.nature not in COMPANY_NATURE_LABELS:
        errors.append(RuleError("nature", N_("企业性质：无效的选择")))
    region = db.session.get(Region, data.region_id) if data.region_id else None
    if data.region_id and region is None:
        errors.append(RuleError("region_id", N_("来源地：无效的选择")))
    industry = db.session.get(Industry, data.industry_id) if data.industry_id else None
    if data.industry_id and industry is None:
        errors.append(RuleError("industry_id", N_("产业类别：无效的选择")))
    website = (data.website or "").strip()
    if website and not website.lower().startswith(("http://", "https://")):
        errors.append(RuleError("website", N_("网站：只能是 http:// 或 https:// 开头的网址")))
    if errors:
        raise RulesBroken(errors)
    company.name, company.name_key, company.credit_code = name, key, code or None
    company.nature, company.region, company.industry = data.nature or "", region, industry
    company.hq_city, company.website = (data.hq_city or "").strip(), website
    company.notes = data.notes or ""


def create_company(data: CompanyData, user: User | None) -> Company:
    """Create a company from the full form."""
    company = Company()
    with db.session.no_autoflush:
        _apply(company, data)
    db.session.add(company)
    db.session.flush()
    record_change("company", company.id, "created", "", company.name, user)
    db.session.flush()
    return company


def update_company(company: Company, data: CompanyData, user: User | None,
                   expected_version: int | None) -> list[str]:
    """Apply edited details and record each changed field; a rename re-indexes the
    company's projects for the text search."""
    if expected_version is not None and expected_version != company.version:
        raise Conflict()
    before = _snapshot(company)
    with db.session.no_autoflush:
        _apply(company, data)
    changed = record_diff("company", company.id, before, _snapshot(company), user)
    if "name" in changed:
        # Imported here: crm.projects imports this module (get_or_create_company).
        from crm.projects import search
        for project in db.session.scalars(select(Project).where(
                Project.company_id == company.id)):
            project.search_text = search.search_text(project.name, company.name)
            search.sync_tokens(project.id, project.search_text)
    db.session.flush()
    return changed


def _contact_text(contact: Contact) -> str:
    return " ".join(p for p in (contact.name, contact.title, contact.phone, contact.email) if p)


def save_contact(company: Company, contact: Contact | None, name: str, title: str,
                 phone: str, email: str, user: User | None) -> Contact:
    """Add a contact to ``company`` (contact None) or change one; recorded in history."""
    before = _contact_text(contact) if contact else ""
    if contact is None:
        contact = Contact(company=company)
        db.session.add(contact)
    contact.name, contact.title = name.strip(), (title or "").strip()
    contact.phone, contact.email = (phone or "").strip(), (email or "").strip()
    record_change("company", company.id, "contact", before, _contact_text(contact), user)
    db.session.flush()
    return contact


def delete_contact(contact: Contact, user: User | None) -> None:
    """Remove a contact; the history keeps what it was."""
    record_change("company", contact.company_id, "contact", _contact_text(contact), "", user)
    db.session.delete(contact)
    db.session.flush()
