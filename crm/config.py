"""Settings read from the environment.

Production (``CRM_ENV=production``) refuses to start without a SECRET_KEY; development
reads a key generated once into ``instance/secret_key`` by ``make run``.
"""
import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """Raised when the environment describes an unsafe or impossible configuration."""


def _secret_key(production: bool) -> tuple[str, str]:
    """Return SECRET_KEY from the environment, else the development key file, with
    where it came from ("env", "file" or "generated")."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key, "env"
    if production:
        raise ConfigError("SECRET_KEY must be set in production (CRM_ENV=production).")
    key_file = INSTANCE_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip(), "file"
    # No key yet (e.g. a bare `flask` command before `make run`): a per-process key
    # keeps the app usable; sessions then do not survive a restart, nor are they shared
    # between workers (check-deploy refuses it).
    return os.urandom(32).hex(), "generated"


def database_url() -> str:
    """Return the database URL: DATABASE_URL, else SQLite under instance/."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    INSTANCE_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'crm.sqlite3'}"


def load_config() -> dict:
    """Build the Flask config mapping from the environment."""
    production = os.environ.get("CRM_ENV", "development") == "production"
    key, key_source = _secret_key(production)
    return {
        "SECRET_KEY": key,
        "SECRET_KEY_SOURCE": key_source,
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh_CN", "en"],
        "WTF_I18N_ENABLED": True,
        # A long visit write-up must not lose its CSRF token: 8 hours.
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # Session time-outs (ASVS 7.3): idle longer than a visit write-up takes, and
        # a working day at most.
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "120")),
        "SESSION_MAX_HOURS": int(os.environ.get("SESSION_MAX_HOURS", "12")),
        "PAGE_SIZE": 50,
        # 填报单位 on the monthly report's sheets: the bureau's name.
        "ZONE_NAME": os.environ.get("ZONE_NAME", "").strip() or "开发区招商局",
        "PRODUCTION": production,
        # The security log's file (kept six months or more); empty: standard error.
        "SECURITY_LOG": os.environ.get("SECURITY_LOG", ""),
        # Reverse proxies in front (nginx: 1): the client's address for the sign-in
        # throttle and the logs is then read from X-Forwarded-For, and https from
        # X-Forwarded-Proto. 0: served directly.
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0") or 0),
    }
