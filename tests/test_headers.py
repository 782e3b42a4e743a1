"""Security headers on every response, no-store on what a signed-in user sees, a request
id on error pages, and templates free of the inline code the CSP refuses."""
import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_a_signed_in_page_carries_every_header(as_role):
    response = as_role("officer").get("/projects/")
    assert response.status_code == 200
    h = response.headers
    csp = dict(part.strip().split(" ", 1) for part in h["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "same-origin"
    assert h["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[0-9a-f]{12}", h["X-Request-Id"])


def test_static_files_and_anonymous_pages(client):
    login_page = client.get("/login")
    assert "frame-ancestors 'none'" in login_page.headers["Content-Security-Policy"]
    assert login_page.headers.get("Cache-Control") != "no-store"
    static = client.get("/static/js/app.js")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    assert static.headers["X-Content-Type-Options"] == "nosniff"


def test_error_pages_show_the_request_id(as_role):
    response = as_role("officer").get("/no-such-page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert f"请求编号：{response.headers['X-Request-Id']}" in body


def test_no_template_holds_inline_script_style_or_handlers():
    """The CSP allows neither: each would silently stop working in the browser."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for m in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in m.group(1) and 'type="application/json"' not in m.group(1):
                found.append(f"{path.name}: inline <script>")
        if re.search(r"<style\b", text):
            found.append(f"{path.name}: <style>")
        if re.search(r"\sstyle=", text):
            found.append(f"{path.name}: style attribute")
        if re.search(r"\son[a-z]+=", text):
            found.append(f"{path.name}: on… handler")
        if "javascript:" in text:
            found.append(f"{path.name}: javascript: URL")
    assert found == []
