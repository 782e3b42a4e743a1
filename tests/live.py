"""A live server for the tests that need real processes (tests/test_deploy.py,
tests/test_gunicorn_concurrency.py, tests/stress.py): gunicorn started with
gunicorn.conf.py on a free loopback port, and a small HTTP client that signs in and
submits the pages' own forms as a browser behind the HTTPS reverse proxy would."""
from __future__ import annotations

import html.parser
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# The access log with the worker's pid and the response's request id (X-Request-Id,
# crm/headers.py), so a test can tell which worker served which request.
ACCESS_LOG_FORMAT = '%(p)s %({x-request-id}o)s %(s)s %(M)sms "%(r)s"'
_ACCESS_LINE = re.compile(r"^<(\d+)> (\S+) (\d{3}) (\d+)ms ")
_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` in production mode on a free loopback
    port, its output (access and error log) in ``log_path``. Use as a context manager:
    the server is always stopped (TERM, then KILL) on the way out."""

    def __init__(self, database_url: str, log_path: Path, workers: int = 2,
                 timeout: int | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.env = {**os.environ, "CRM_ENV": "production",
                    "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": database_url,
                    "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers),
                    # Served behind the HTTPS reverse proxy (README, Production): the
                    # client's address and https come from X-Forwarded-For/-Proto.
                    "PROXY_COUNT": "1", **env}
        self.env.pop("FLASK_DEBUG", None)
        if timeout is not None:
            self.env["TIMEOUT"] = str(timeout)
        self.proc: subprocess.Popen | None = None

    def start(self, ready_within: float = 60) -> "Gunicorn":
        """Start the server and wait until /healthz answers 200."""
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            # No control socket: its default path is shared by every gunicorn of the
            # user, a production one included.
            [GUNICORN, "-c", "gunicorn.conf.py", "--access-logformat", ACCESS_LOG_FORMAT,
             "--no-control-socket", "wsgi:app"], cwd=ROOT, env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        if self.wait_healthy(ready_within) is None:
            self.stop()
            raise RuntimeError(f"gunicorn did not come up:\n{self.log()[-3000:]}")
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> int | None:
        """Stop gracefully (TERM), else kill the master and its workers; return its exit
        code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)   # our own session only
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def healthz(self, timeout: float = 5) -> int | None:
        """The status of GET /healthz, None without an answer."""
        try:
            return Client(self.url, timeout=timeout).get("/healthz").status
        except (OSError, http.client.HTTPException):
            return None

    def wait_healthy(self, within: float) -> float | None:
        """Seconds until /healthz answered 200, None if it did not within ``within``."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            if self.proc.poll() is not None:
                return None
            left = within - (time.monotonic() - started)
            if self.healthz(timeout=min(5.0, max(0.5, left))) == 200:
                return time.monotonic() - started
            time.sleep(0.05)
        return None

    def log(self) -> str:
        """Everything gunicorn and the app wrote so far."""
        return self.log_path.read_text(errors="replace")

    def booted_workers(self, log: str | None = None) -> list[int]:
        """The pids of the workers booted so far, in order."""
        return [int(p) for p in _BOOTED.findall(self.log() if log is None else log)]

    def live_workers(self) -> set[int]:
        """The pids of the master's child processes now (its workers)."""
        out = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                out.add(int(stat.parent.name))
        return out

    def served(self, log: str | None = None) -> dict[str, int]:
        """Request id → pid of the worker that served it, from the access log."""
        out = {}
        for line in (self.log() if log is None else log).splitlines():
            m = _ACCESS_LINE.match(line)
            if m:
                out[m.group(2)] = int(m.group(1))
        return out

    def served_by(self, request_ids, within: float = 10) -> dict[str, int]:
        """``served()`` once the access log names every one of ``request_ids`` (a
        worker logs a request just after it answered)."""
        deadline = time.monotonic() + within
        while True:
            served = self.served()
            if set(request_ids) <= served.keys() or time.monotonic() > deadline:
                return served
            time.sleep(0.05)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    @property
    def request_id(self) -> str:
        return self.headers.get("X-Request-Id", "")

    def json(self):
        return json.loads(self.text)


@dataclass
class Form:
    """One <form> of a page: where it posts and the fields a browser would send."""

    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)

    def names(self) -> set[str]:
        return {k for k, _v in self.fields}

    def set(self, name: str, *values: str) -> "Form":
        """Replace the field's values (several for a multiple select)."""
        at = next((i for i, (k, _v) in enumerate(self.fields) if k == name), len(self.fields))
        rest = [(k, v) for k, v in self.fields if k != name]
        self.fields = rest[:at] + [(name, str(v)) for v in values] + rest[at:]
        return self


class _FormParser(html.parser.HTMLParser):
    """The forms of a page with what a browser submits of each: named inputs (checked
    boxes only; no buttons or files), textareas, each select's selected options (else
    its first one)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select = None    # [name, multiple, options, selected]
        self._option = None    # [value or None, text, selected]
        self._textarea = None  # [name, text]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or ""))
            return
        if not self.forms or "disabled" in a:
            return
        fields = self.forms[-1].fields
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            fields.append((name, a.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
        elif tag == "select" and name:
            self._select = [name, "multiple" in a, [], []]
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "", "selected" in a]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        if self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            # A line break right after <textarea> is not part of its value.
            name, text = self._textarea
            text = text[2:] if text.startswith("\r\n") else text.removeprefix("\n")
            self.forms[-1].fields.append((name, text))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            self._close_option()
        elif tag == "select" and self._select is not None:
            if self._option is not None:
                self._close_option()
            name, multiple, options, selected = self._select
            chosen = selected if selected or multiple else options[:1]
            self.forms[-1].fields.extend((name, v) for v in chosen)
            self._select = None

    def _close_option(self):
        value, text, selected = self._option
        value = text.strip() if value is None else value
        self._select[2].append(value)
        if selected:
            self._select[3].append(value)
        self._option = None


def forms(page: str) -> list[Form]:
    """Every form of an HTML page."""
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


class Client:
    """One browser: its own cookies, sent to gunicorn as the HTTPS reverse proxy passes
    them on (the session cookie is ``Secure``: the browser sends it over https to nginx,
    nginx to gunicorn over the loopback). ``address`` is the client's address as nginx
    reports it in X-Forwarded-For. Redirects are not followed: they are the answers."""

    def __init__(self, base_url: str, address: str = "10.0.0.1", timeout: float = 60):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.address, self.timeout = address, timeout
        self.cookies: dict[str, str] = {}

    def _headers(self, path: str, extra: dict | None) -> dict:
        headers = {"Host": f"{self.host}:{self.port}", "X-Forwarded-For": self.address,
                   "X-Forwarded-Proto": "https", "Accept-Language": "zh-CN",
                   "Connection": "close",
                   # What a browser sends with a form (Flask-WTF checks it on https).
                   "Referer": f"https://{self.host}:{self.port}{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> http.client.HTTPConnection:
        """Send a request and return its connection, the answer not yet read (so a
        test can send several at once, or drop the connection as a lost answer)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.request(method, path, body=body, headers=self._headers(path, headers))
        return conn

    def receive(self, conn: http.client.HTTPConnection, started: float) -> Response:
        """Read the answer on ``conn`` and keep its cookies."""
        try:
            r = conn.getresponse()
            text = r.read().decode("utf-8", errors="replace")
        finally:
            conn.close()
        for cookie in r.headers.get_all("Set-Cookie") or []:
            pair, _sep, attrs = cookie.partition(";")
            name, _eq, value = pair.strip().partition("=")
            attrs = attrs.lower()
            if not value or "max-age=0" in attrs or "expires=thu, 01 jan 1970" in attrs:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Response(r.status, r.headers, text, time.monotonic() - started)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> Response:
        started = time.monotonic()
        return self.receive(self.send(method, path, body, headers), started)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, fields) -> Response:
        return self.request("POST", path, *encode(fields))

    def form(self, path: str, having: str = "csrf_token") -> tuple[Response, Form]:
        """GET a page and return it with its first form that has a field ``having``."""
        page = self.get(path)
        if page.status != 200:
            raise AssertionError(f"GET {path}: {page.status}")
        found = next((f for f in forms(page.text) if having in f.names()
                      and not f.action.endswith("/logout")), None)
        if found is None:
            raise AssertionError(f"GET {path}: no form with {having}")
        found.action = found.action or path
        return page, found

    def submit(self, form: Form) -> Response:
        return self.post(form.action, form.fields)

    def login(self, username: str, password: str) -> Response:
        """Sign in through the login page (CSRF token included); the answer, a 302 on
        success."""
        _page, form = self.form("/login")
        return self.submit(form.set("username", username).set("password", password))


def encode(fields) -> tuple[bytes, dict]:
    """A form body (url-encoded) and its Content-Type header."""
    items = fields.items() if isinstance(fields, dict) else fields
    return (urllib.parse.urlencode(list(items)).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"})


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]
              ) -> tuple[bytes, dict]:
    """A multipart/form-data body (a file upload) and its Content-Type header."""
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())
    for name, filename, data in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
