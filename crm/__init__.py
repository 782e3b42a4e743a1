"""Investment pipeline CRM: the application factory."""
from flask import Flask

from crm.config import INSTANCE_DIR, load_config


def create_app(config: dict | None = None) -> Flask:
    """Create the app: config, extensions, blueprints, CLI — nothing else."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR),
                template_folder="../templates", static_folder="../static")
    app.config.from_mapping(load_config())
    if config:
        app.config.from_mapping(config)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    from crm import headers, i18n
    from crm.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(INSTANCE_DIR.parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    headers.init_app(app)
    from crm import security_log
    security_log.init_app(app)

    from crm.auth import bp as auth_bp
    from crm.board import bp as board_bp
    from crm.companies import bp as companies_bp
    from crm.coordination import bp as coordination_bp
    from crm.dashboard import bp as dashboard_bp
    from crm.excel import bp as excel_bp
    from crm.main import bp as main_bp
    from crm.projects import bp as projects_bp
    from crm.reference import bp as reference_bp
    from crm.targets import bp as targets_bp
    from crm.visits import bp as visits_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(projects_bp, url_prefix="/projects")
    app.register_blueprint(excel_bp)
    app.register_blueprint(companies_bp, url_prefix="/companies")
    app.register_blueprint(visits_bp, url_prefix="/visits")
    app.register_blueprint(board_bp, url_prefix="/board")
    app.register_blueprint(coordination_bp, url_prefix="/coordination")
    app.register_blueprint(dashboard_bp, url_prefix="/dashboard")
    app.register_blueprint(reference_bp, url_prefix="/admin")
    app.register_blueprint(targets_bp, url_prefix="/admin/targets")

    from crm import cli
    cli.register(app)
    return app
