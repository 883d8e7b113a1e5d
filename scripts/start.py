"""`make run`: prepare the database and demo data, then start every process with honcho.

The service runs as users will use it: DEBUG off (friendly error pages, hashed static files served by
WhiteNoise), a secret generated once and kept in `var/secret_key`. `make run DEBUG=true` gives Django's
debug pages; `make run DEMO=false` starts without demo data.
"""

import errno
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VAR = ROOT / "var"
ADMIN_PASSWORD_FILE = VAR / "admin_password"

# The site is served over plain HTTP on 127.0.0.1: the production HTTPS hardening would redirect every
# request to an https:// address that nothing answers.
LOCAL_HTTP = {
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
    "SECURE_HSTS_PRELOAD": "false",
    "SERVE_MEDIA": "true",
    "LOG_FORMAT": "plain",
}


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def setting(name: str, default: str = "") -> str:
    """The environment wins over .env, as in the settings."""
    return os.environ.get(name) or _dotenv_value(name) or default


def is_true(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def secret_file_ensure(path: Path) -> str:
    """A random secret kept in `path` (created once, readable by the owner only)."""
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: a socket in TIME_WAIT does not count, a listening one does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def busy_ports_message(*, port: int, mailsink_port: int | None) -> str:
    """What to do when another program (most often a `make run` already running) holds a port; "" if none."""
    problems = []
    if port_in_use(port):
        problems.append(f"port {port} (the web server) is in use: start on another with `make run PORT={port + 1}`")
    if mailsink_port is not None and port_in_use(mailsink_port):
        problems.append(
            f"port {mailsink_port} (the local mail sink) is in use: choose another with "
            f"`make run MAILSINK_PORT={mailsink_port + 1}`"
        )
    if not problems:
        return ""
    return (
        "Vestnik cannot start: "
        + "; ".join(problems)
        + ".\nIs Vestnik already running (another `make run`)? Stop it with Ctrl-C in its terminal, or use other ports."
    )


def banner(*, port: int, debug: bool, demo: bool, real_server: bool, admin_password: str, mail_dir: str) -> str:
    lines = [f"  Vestnik is starting at  http://127.0.0.1:{port}/"]
    if debug:
        lines.append("  Debug mode (DEBUG=true): Django's debug pages; never on a server others can reach.")
    else:
        lines.append("  Runs as in production (DEBUG off); Django's debug pages: make run DEBUG=true")
    if demo:
        lines += [
            "  Demo data (make run DEMO=false starts without it; make clean first to drop what exists):",
            "    demo@vestnik.local / vestnik-demo: 12 recipients (example.com), 4 messages, 4 mailings",
            "    manager@vestnik.local / vestnik-demo: a manager; its action log has the demo's disabled mailing",
            f"    admin@vestnik.local / {admin_password}: superuser, http://127.0.0.1:{port}/admin/",
        ]
        if real_server:
            lines.append("    EMAIL_HOST is set: the demo mailings are disabled, they never reach a real mail server")
    else:
        lines.append("  No demo data loaded (DEMO=false). Register at /accounts/register/.")
    if real_server:
        lines.append(f"  Outgoing mail goes to {setting('EMAIL_HOST')} (EMAIL_HOST)")
    else:
        lines.append(f"  Outgoing mail is saved to {mail_dir} (no EMAIL_HOST set)")
    lines.append("  Stop everything with Ctrl-C.")
    rule = "=" * 64
    return "\n".join([rule, *lines, rule])


def main() -> int:
    debug = is_true(setting("DEBUG", "false"))
    demo = is_true(setting("DEMO", "true"))
    os.environ["DEBUG"] = "true" if debug else "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not debug:
        for name, value in LOCAL_HTTP.items():
            os.environ.setdefault(name, value)
    VAR.mkdir(exist_ok=True)
    if not setting("SECRET_KEY"):
        # The settings read var/secret_key themselves; this creates it on the first run.
        secret_file_ensure(VAR / "secret_key")
    port = int(setting("PORT", "8000"))
    real_server = bool(setting("EMAIL_HOST"))
    mailsink_port = None if real_server else int(setting("MAILSINK_PORT", "1025"))
    busy = busy_ports_message(port=port, mailsink_port=mailsink_port)
    if busy:
        print(busy, file=sys.stderr)
        return 1
    # The published password is fine on a developer's machine only; otherwise one generated for this folder.
    admin_password = "vestnik-demo" if debug or not demo else secret_file_ensure(ADMIN_PASSWORD_FILE)
    try:
        manage("migrate", "--no-input", "-v", "0")
        if not debug:
            manage("collectstatic", "--no-input", "-v", "0")
        if demo:
            manage("seed_demo", "--admin-password-file", "" if debug else str(ADMIN_PASSWORD_FILE))
        else:
            # Demo data loaded by an earlier run must not start sending through a real server either.
            manage("seed_demo", "--guard-only")
    except subprocess.CalledProcessError as exc:
        print(f"Setup failed ({exc}); see the messages above.", file=sys.stderr)
        return 1
    mail_dir = setting("MAILSINK_DIR", str(VAR / "mail"))
    print()
    print(
        banner(
            port=port,
            debug=debug,
            demo=demo,
            real_server=real_server,
            admin_password=admin_password,
            mail_dir=mail_dir,
        ),
        flush=True,
    )
    procfile = "Procfile.dev"
    bindir = Path(PY).parent
    # The Procfile says `python`: make it this virtual environment's.
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PORT"] = str(port)
    if not setting("SITE_URL"):
        # Unsubscribe links in the mailings point at this very site (`make run PORT=9000` too).
        os.environ["SITE_URL"] = f"http://127.0.0.1:{port}"
    honcho = bindir / "honcho"
    processes = [line.split(":", 1)[0] for line in (ROOT / procfile).read_text().splitlines() if ":" in line]
    if real_server:
        # A real mail server is configured: the local mail sink is not needed.
        processes = [name for name in processes if name != "mail"]
    # `-e /dev/null`: honcho would load .env itself and let it override the real environment
    # (DEBUG above); the settings read .env on their own, with the environment winning.
    os.execv(str(honcho), [str(honcho), "-e", os.devnull, "--procfile", procfile, "start", *processes])


def _dotenv_value(name: str) -> str:
    dotenv = ROOT / ".env"
    if not dotenv.is_file():
        return ""
    for line in dotenv.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip().strip("'\"")
    return ""


if __name__ == "__main__":
    sys.exit(main())
