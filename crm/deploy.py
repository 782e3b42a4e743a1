"""Operating the deployment: ``flask --app wsgi check-deploy`` (refuse an unsafe production
configuration, naming each problem) and ``flask --app wsgi backup DIR`` (a consistent
online copy of the database: SQLite's backup API, or pg_dump for PostgreSQL)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

# Keys a production SECRET_KEY must not be (examples copied from guides and .env files).
WEAK_KEYS = {"secret", "secret-key", "secret_key", "changeme", "change-me", "dev", "development",
             "test", "default", "password", "flask", "crm", "your-secret-key", "please-change"}
MIN_KEY_LENGTH = 32           # characters: 128 bits and more when random hex or base64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024     # an upload limit above this is no limit


def deploy_problems(app: Flask) -> list[str]:
    """What makes ``app``'s configuration unsafe to serve in production, each naming
    the setting and what to do (empty: safe)."""
    c = app.config
    problems = []
    if not c.get("PRODUCTION"):
        problems.append("CRM_ENV 不是 production：生产环境请设置 CRM_ENV=production")
    if app.debug or c.get("DEBUG") or os.environ.get("FLASK_DEBUG", "") not in ("", "0"):
        problems.append("DEBUG 已开启：调试模式会泄露代码并允许执行命令，生产环境必须关闭"
                        "（去掉 FLASK_DEBUG / --debug）")
    if c.get("TESTING"):
        problems.append("TESTING 已开启：生产环境必须关闭")
    key = str(c.get("SECRET_KEY") or "")
    if c.get("SECRET_KEY_SOURCE") == "generated":
        problems.append("SECRET_KEY 未设置：每个进程各自生成，登录会随机失效；"
                        "请在环境变量中设置同一个 SECRET_KEY")
    elif len(key) < MIN_KEY_LENGTH or key.lower() in WEAK_KEYS or len(set(key)) < 10:
        problems.append(f"SECRET_KEY 太弱：至少 {MIN_KEY_LENGTH} 个随机字符"
                        "（python -c 'import secrets; print(secrets.token_hex(32))'）")
    if not c.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE 未开启：会话 Cookie 可能经明文 HTTP 泄露，"
                        "生产环境须经 HTTPS 访问")
    if not c.get("REMEMBER_COOKIE_SECURE"):
        problems.append("REMEMBER_COOKIE_SECURE 未开启：生产环境须经 HTTPS 访问")
    for name in ("SESSION_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY"):
        if not c.get(name):
            problems.append(f"{name} 未开启：页面脚本可读取登录 Cookie")
    for name in ("SESSION_COOKIE_SAMESITE", "REMEMBER_COOKIE_SAMESITE"):
        if str(c.get(name) or "").lower() not in ("lax", "strict"):
            problems.append(f"{name} 应为 Lax 或 Strict（现为 {c.get(name)!r}）")
    if not c.get("WTF_CSRF_ENABLED", True):
        problems.append("WTF_CSRF_ENABLED 已关闭：表单可被其他网站伪造提交")
    if c.get("LOGIN_DISABLED"):
        problems.append("LOGIN_DISABLED 已开启：所有页面无需登录")
    limit = c.get("MAX_CONTENT_LENGTH")
    if not limit or limit > MAX_UPLOAD_BYTES:
        problems.append(f"MAX_CONTENT_LENGTH 未设置或超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB："
                        "上传大小不受限制")
    url = sa.make_url(c["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "postgresql" and not c.get(
            "SQLALCHEMY_ENGINE_OPTIONS", {}).get("pool_pre_ping"):
        problems.append("PostgreSQL 连接未开启 pool_pre_ping：数据库重启后首个请求会出错")
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or url.database == ":memory:":
            problems.append("数据库是内存中的 SQLite：重启后数据全部丢失")
        elif not os.access(path.parent, os.W_OK):
            problems.append(f"SQLite 数据库目录 {path.parent} 不可写（WAL 日志需要写入目录）")
    return problems


def backup(app: Flask, directory: str | Path) -> Path:
    """Write a consistent copy of the database into ``directory`` while the app keeps
    serving; return the file. SQLite: the backup API, the copy then checked with
    ``PRAGMA integrity_check``. PostgreSQL: ``pg_dump --format=custom``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        target = directory / f"crm-{stamp}.sqlite3"
        partial = target.with_suffix(".partial")
        source = sqlite3.connect(url.database)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)     # pages copied in steps; writers may go on meanwhile
            ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
            source.close()
        if ok != "ok":
            partial.unlink()
            raise RuntimeError(f"备份文件完整性检查未通过：{ok}")
        partial.rename(target)
        return target
    if url.get_backend_name() == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise RuntimeError("找不到 pg_dump：请安装 PostgreSQL 客户端（postgresql-client）")
        target = directory / f"crm-{stamp}.dump"
        partial = target.with_suffix(".partial")
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        result = subprocess.run([pg_dump, "--format=custom", "--no-owner",
                                 f"--file={partial}", libpq],
                                capture_output=True, text=True)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"pg_dump 失败：{result.stderr.strip()}")
        partial.rename(target)
        return target
    raise RuntimeError(f"不支持备份此数据库：{url.get_backend_name()}")
