"""The English catalog: every string extracted from the sources is translated with the
same placeholders, and pages render in English with the ``lang=en`` cookie (Chinese
without it).

The page tests compile crm/translations/en/.../messages.po into a temporary directory
themselves, so they test the .po in the tree, not whichever .mo was last compiled.
"""
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from crm.extensions import babel, db

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "crm" / "translations"
BABEL_CFG = TRANSLATIONS / "babel.cfg"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
# The same keywords as `make extract-messages` (-k _l -k N_ on top of Babel's defaults).
KEYWORDS = {**DEFAULT_KEYWORDS, **parse_keywords(["_l", "N_"])}

# A %-directive: %(name)s, %s, %d, %.2f, %% ... or a stray % (which breaks formatting).
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[a-zA-Z%]?")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def extract_messages() -> dict:
    """Extract msgids from the current sources as pybabel does: msgid → locations."""
    with BABEL_CFG.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    found: dict = {}
    # Only dot-directories are skipped: Babel's legacy default also skips "_" ones,
    # which would silently leave templates/_macros out (as the Makefile's
    # --ignore-dirs does not).
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS,
            directory_filter=lambda d: not os.path.basename(d).startswith(".")):
        msgid = message[0] if isinstance(message, (tuple, list)) else message
        if msgid:
            found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    return found


def read_catalog():
    with EN_PO.open("rb") as f:
        return read_po(f, locale="en")


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (tuple, list)) \
        else [message.string]


# ---------------------------------------------------------------- catalog checks

@pytest.fixture(scope="module")
def extracted():
    found = extract_messages()
    assert len(found) > 100, "extraction found suspiciously few messages"
    return found


@pytest.fixture(scope="module")
def catalog():
    return read_catalog()


def test_every_extracted_message_is_translated(extracted, catalog):
    """A new _("…"), _l("…") or N_("…") string fails here until it is translated
    (`make extract-messages`, then fill in msgstr in the en messages.po)."""
    problems = []
    for (msgid, context), where in sorted(extracted.items()):
        message = catalog.get(msgid, context=context)
        if message is None:
            problems.append(f"missing: {msgid!r} ({where[0]})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where[0]})")
        elif not all(s and s.strip() for s in _strings(message)):
            problems.append(f"untranslated: {msgid!r} ({where[0]})")
    assert not problems, "\n".join(problems)


def test_catalog_header_is_usable(catalog):
    """A fuzzy header makes `pybabel compile` skip the whole catalog."""
    assert not catalog.fuzzy
    assert str(catalog.locale) == "en"
    assert catalog.num_plurals == 2


def test_placeholders_match(catalog):
    """Every %(name)s of a msgid appears in its translation and nothing else does: a
    missing name breaks the message and an extra % breaks Jinja's newstyle gettext."""
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (tuple, list)) else [message.id]
        expected = sorted(PLACEHOLDER.findall(ids[0]))
        for string in _strings(message):
            if string and sorted(PLACEHOLDER.findall(string)) != expected:
                problems.append(f"{message.id!r} → {string!r}")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


def test_babel_checkers_pass(catalog):
    """Babel's own checks (as run by `pybabel compile`) find nothing."""
    problems = [f"{message.id!r}: {errors}" for message, errors in catalog.check()]
    assert not problems, "\n".join(problems)


def test_no_han_characters_in_translations(catalog):
    """An English msgstr must not be the Chinese text copied over."""
    leftovers = [(m.id, s) for m in catalog if m.id for s in _strings(m) if HAN.search(s)]
    assert not leftovers


def test_completeness_check_catches_a_new_string(tmp_path, catalog):
    """The extractor this module relies on does see a newly added string."""
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "new.py").write_text(
        'from flask_babel import gettext as _, lazy_gettext as _l\n'
        'from crm.lifecycle import N_\n'
        'A = _("一个新的界面文字")\nB = _l("又一个")\nC = N_("第三个")\n', encoding="utf-8")
    with BABEL_CFG.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    found = {m for _file, _line, m, _comments, _ctx in extract_from_dir(
        str(tmp_path), method_map, options_map, keywords=KEYWORDS)}
    assert found == {"一个新的界面文字", "又一个", "第三个"}
    assert all(catalog.get(m) is None for m in found)


# ---------------------------------------------------------------- pages in English

@pytest.fixture(scope="module")
def compiled_translations(tmp_path_factory):
    """The en .po compiled into a fresh translations directory."""
    root = tmp_path_factory.mktemp("translations")
    target = root / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as f:
        write_mo(f, read_catalog())
    return root


@pytest.fixture
def app(make_app, compiled_translations):
    """The app serving the freshly compiled catalog.

    Flask-Babel caches loaded catalogs on the Babel instance, which every app in the
    test process shares: clear it so this app loads from its own directory.
    """
    app = make_app(BABEL_TRANSLATION_DIRECTORIES=str(compiled_translations))
    with app.app_context():
        babel.domain_instance.cache.clear()
        yield app
        babel.domain_instance.cache.clear()


def english(client):
    client.set_cookie("lang", "en")
    return client


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def _nav(html: str) -> str:
    return re.search(r"<nav\b.*?</nav>", html, re.S).group(0)


# Language names are written in their own language: the switch back to Chinese.
LANGUAGE_SWITCH = '>中文</a>'
# Known Chinese in the English UI that the catalog cannot fix (reported): the
# investment-unit choices (crm/projects/forms.py INVESTMENT_UNITS, labelled with their
# Chinese keys) and the capacity-unit suggestions (CAPACITY_UNITS). Only these option
# labels and values are tolerated; remove the patterns once the app translates them.
UNIT_WORDS = "亿元|万元|万美元|亿美元|万台|万辆|万吨|万套|万件|万平方米|间|床"
KNOWN_UNTRANSLATED = (re.compile(rf'value="(?:{UNIT_WORDS})"'),
                      re.compile(rf'>(?:{UNIT_WORDS})</option>'))


def data_strings() -> list[str]:
    """Names stored in the database, which stay as written in any language."""
    from crm.models import Company, Industry, Project, Region, Unit, User
    names = []
    for column in (Unit.name, Region.name, Industry.name, Project.name, Company.name,
                   User.display_name):
        names += db.session.scalars(sa.select(column)).all()
    return sorted(set(names), key=len, reverse=True)


def untranslated(html: str, tolerate=()) -> list[str]:
    """Han characters left in a page once data and tolerated strings are removed."""
    text = html.replace(LANGUAGE_SWITCH, "")
    for pattern in tolerate:
        text = pattern.sub("", text)
    for s in data_strings():
        text = text.replace(s, "")
    return HAN.findall(text)


def test_login_page_in_english(client):
    html = english(client).get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Sign in" in html and "Username" in html and "Password" in html
    assert HAN.findall(_title(html)) == []
    assert HAN.findall(_nav(html).replace(LANGUAGE_SWITCH, "")) == []
    assert untranslated(html) == []


def test_login_page_in_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "登录" in _title(html) and "用户名" in html
    assert "Sign in" not in html
    assert 'href="/lang/en">English</a>' in html


def test_language_switch_sets_the_cookie(client):
    response = client.get("/lang/en")
    assert response.status_code == 302
    assert "lang=en" in response.headers["Set-Cookie"]
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_lazy_messages_and_form_errors_in_english(client, users):
    """lazy_gettext (login_message) and gettext in a route come out in English."""
    english(client)
    html = client.get("/projects/", follow_redirects=True).get_data(as_text=True)
    assert "Please sign in first" in html
    response = client.post("/login", data={"username": "admin1", "password": "wrong-pw"})
    assert response.status_code == 400
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_project_list_and_detail_in_english(as_role, factory):
    project = factory.project(name="恒源光伏组件")
    admin = english(as_role("admin"))

    html = admin.get("/projects/").get_data(as_text=True)
    assert "Project ledger" in _title(html) and "Project ledger" in _nav(html)
    assert HAN.findall(_title(html)) == []
    assert HAN.findall(_nav(html).replace(LANGUAGE_SWITCH, "")) == []
    for label in ("Lead", "Responsible unit", "Source region", "Industry", "Investor",
                  "Total investment", "Officer in charge", "All stages", "1 in total",
                  "5 × 100M CNY"):
        assert label in html, label
    assert "恒源光伏组件" in html  # data stays as written
    assert untranslated(html) == []

    html = admin.get(f"/projects/{project.id}").get_data(as_text=True)
    for label in ("Lead", "Signed", "At capacity", "Responsible leader", "Officer in charge",
                  "Milestones", "Stage history", "Change history", "Project created",
                  "Advance stage", "5 × 100M CNY"):
        assert label in html, label
    assert untranslated(html) == []


def test_project_list_in_chinese_without_cookie(as_role, factory):
    factory.project(name="恒源光伏组件")
    html = as_role("admin").get("/projects/").get_data(as_text=True)
    assert "项目台账" in _title(html)
    assert "在谈" in html and "5 亿元" in html
    assert "Project ledger" not in html


def test_rule_errors_in_english(as_role, factory):
    """A broken stage gate names its fields in English (translated parameters too)."""
    project = factory.project(name="恒源光伏组件", signing_ready=False)
    admin = english(as_role("admin"))
    response = admin.post(f"/projects/{project.id}/advance", data={
        "stage": "signed", "version": str(project.version),
        "p-industry_id": "0", "p-unit_id": "0", "p-investment_unit": "亿元"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Signing date: required" in html
    assert "Investor: required once a project is signed" in html
    assert untranslated(html, KNOWN_UNTRANSLATED) == []


@pytest.mark.parametrize("path", [
    "/projects/new", "/projects/{id}/edit", "/projects/{id}/advance",
    "/projects/{id}/status", "/projects/{id}/correct", "/users/", "/users/new", "/admin/units/",
    "/admin/regions/", "/admin/regions/new", "/admin/industries/", "/admin/settings",
    "/companies/", "/companies/new", "/companies/{company_id}",
    "/companies/{company_id}/edit", "/companies/{company_id}/contacts/new",
    "/visits/", "/visits/new", "/visits/trips", "/", "/coordination/",
    "/coordination/projects/{id}/issues/new",
    "/dashboard/", "/dashboard/?as_of=2025-12-31&period=year", "/board/",
    "/admin/targets/", "/admin/targets/new",
    "/projects/?as_of=2025-12-31&stage=signed&stalled=red",
    "/projects/?milestone=signed&since=2025-01-01&until=2025-12-31",
    "/no-such-page",
])
def test_admin_pages_have_no_untranslated_chinese(as_role, factory, path):
    project = factory.project(name="恒源光伏组件")
    factory.project(name="已签约项目")
    admin = english(as_role("admin"))
    response = admin.get(path.format(id=project.id, company_id=project.company_id))
    assert response.status_code in (200, 404)
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert untranslated(html, KNOWN_UNTRANSLATED) == []
