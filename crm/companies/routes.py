"""Company pages: list, detail (projects, contacts, history), create/edit, contacts."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.auth import policy
from crm.companies import bp
from crm.companies.forms import CompanyFilterForm, CompanyForm, ContactForm
from crm.companies.queries import (company_detail_stmt, company_list_stmt,
                                   company_projects_stmt, project_counts)
from crm.companies.services import (FIELD_LABELS, CompanyData, create_company, delete_contact,
                                    save_contact, update_company)
from crm.extensions import db
from crm.forms import commit_or_report, form_status, is_stale
from crm.history import entity_history_stmt
from crm.models import Company, Contact
from crm.reference.queries import industries_stmt, region_choices
from crm.visits.queries import VisitFilters, visit_list_stmt


def _get_company(company_id: int) -> Company:
    company = db.session.scalar(company_detail_stmt(company_id))
    if company is None:
        abort(404)
    return company


def _fill_choices(form) -> None:
    form.region_id.choices = [(0, "—")] + region_choices()
    form.industry_id.choices = [(0, "—")] + [
        (i.id, i.name) for i in db.session.scalars(industries_stmt())]


def _form_data(form: CompanyForm) -> CompanyData:
    return CompanyData(
        name=form.name.data, credit_code=form.credit_code.data or "",
        nature=form.nature.data or "", region_id=form.region_id.data or None,
        hq_city=form.hq_city.data or "", industry_id=form.industry_id.data or None,
        website=form.website.data or "", notes=form.notes.data or "")


@bp.route("/")
@login_required
def index():
    """All investor companies, searchable and filterable."""
    form = CompanyFilterForm(request.args)
    form.validate()
    # Invalid filter values are shown as errors and ignored, never half-applied.
    stmt = (company_list_stmt() if form.errors else company_list_stmt(
        form.q.data or "", form.nature.data or "", form.region.data, form.industry.data))
    page = db.paginate(stmt, page=form.page.data or 1,
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template(
        "companies/index.html", page=page, form=form, regions=region_choices(),
        project_counts=project_counts([c.id for c in page.items]),
        industries=[(i.id, i.name) for i in db.session.scalars(industries_stmt())],
        can_edit=policy.can(current_user, policy.EDIT_COMPANY))


@bp.route("/<int:company_id>")
@login_required
def detail(company_id: int):
    """A company: its details, contacts, projects and change history."""
    company = _get_company(company_id)
    return render_template(
        "companies/detail.html", company=company,
        projects=db.session.scalars(company_projects_stmt(company.id)).all(),
        changes=db.session.scalars(entity_history_stmt("company", company.id)).all(),
        visits=db.session.scalars(
            visit_list_stmt(VisitFilters(company_id=company.id)).limit(20)).all(),
        field_labels=FIELD_LABELS, can_edit=policy.can(current_user, policy.EDIT_COMPANY),
        can_log=policy.can(current_user, policy.LOG_VISIT))


@bp.route("/new", methods=["GET", "POST"])
@policy.require(policy.EDIT_COMPANY)
def create():
    """Create a company."""
    form = CompanyForm()
    _fill_choices(form)
    created = []
    if form.validate_on_submit() and commit_or_report(
            form, lambda: created.append(create_company(_form_data(form), current_user))):
        flash(_("投资方已保存"), "success")
        return redirect(url_for("companies.detail", company_id=created[0].id))
    return render_template("companies/edit.html", form=form, company=None), form_status(form)


@bp.route("/<int:company_id>/edit", methods=["GET", "POST"])
@policy.require(policy.EDIT_COMPANY)
def edit(company_id: int):
    """Edit a company; a stale version is refused (已被他人修改)."""
    company = _get_company(company_id)
    form = CompanyForm()
    _fill_choices(form)
    if not form.is_submitted():
        form.process(obj=company)
        form.region_id.data = company.region_id or 0
        form.industry_id.data = company.industry_id or 0
        form.version.data = str(company.version)
    if not is_stale(form, company) and form.validate_on_submit() and commit_or_report(
            form, lambda: update_company(company, _form_data(form), current_user,
                                         int(form.version.data or 0) or None)):
        flash(_("投资方已保存"), "success")
        return redirect(url_for("companies.detail", company_id=company.id))
    status = form_status(form)
    return render_template("companies/edit.html", form=form, company=company), status


@bp.route("/<int:company_id>/contacts/new", methods=["GET", "POST"])
@policy.require(policy.EDIT_COMPANY)
def contact_create(company_id: int):
    """Add a contact person to a company."""
    return _contact_form(_get_company(company_id), None)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@policy.require(policy.EDIT_COMPANY)
def contact_edit(contact_id: int):
    """Change a contact person."""
    contact = db.get_or_404(Contact, contact_id)
    return _contact_form(contact.company, contact)


def _contact_form(company: Company, contact: Contact | None):
    form = ContactForm()
    if not form.is_submitted() and contact is not None:
        form.process(obj=contact)
    if form.validate_on_submit() and commit_or_report(form, lambda: save_contact(
            company, contact, form.name.data, form.title.data, form.phone.data,
            form.email.data, current_user)):
        flash(_("联系人已保存"), "success")
        return redirect(url_for("companies.detail", company_id=company.id))
    return render_template("companies/contact.html", form=form, company=company,
                           contact=contact), form_status(form)


@bp.route("/contacts/<int:contact_id>/delete", methods=["POST"])
@policy.require(policy.EDIT_COMPANY)
def contact_delete(contact_id: int):
    """Remove a contact person (the change history keeps who it was)."""
    contact = db.get_or_404(Contact, contact_id)
    company_id = contact.company_id
    delete_contact(contact, current_user)
    db.session.commit()
    flash(_("联系人已删除"), "success")
    return redirect(url_for("companies.detail", company_id=company_id))


@bp.route("/lookup")
@login_required
def lookup():
    """Names of companies matching what is typed (for the visit form's suggestions)."""
    q = (request.args.get("q") or "")[:100]
    return {"companies": [c.name for c in db.session.scalars(
        company_list_stmt(q).limit(10))] if q.strip() else []}
