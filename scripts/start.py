"""`make run`: prepare the database and demo data, then start every process with honcho."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    (ROOT / "var").mkdir(exist_ok=True)
    try:
        manage("migrate", "--no-input", "-v", "0")
        manage("createcachetable", "-v", "0")
        manage("seed_demo")
    except subprocess.CalledProcessError as exc:
        print(f"Setup failed ({exc}); see the messages above.", file=sys.stderr)
        return 1
    port = os.environ.get("PORT", "8000")
    procfile = "Procfile.dev"
    env_host = os.environ.get("EMAIL_HOST") or _dotenv_value("EMAIL_HOST")
    print()
    print("=" * 64)
    print(f"  Vestnik is starting at  http://127.0.0.1:{port}/")
    print("  Demo login:  demo@vestnik.local  /  vestnik-demo")
    print("  Manager:     manager@vestnik.local  /  vestnik-demo")
    print(f"  Admin:       http://127.0.0.1:{port}/admin/  (admin@vestnik.local / vestnik-demo)")
    if not env_host:
        mail_dir = os.environ.get("MAILSINK_DIR") or _dotenv_value("MAILSINK_DIR") or str(ROOT / "var" / "mail")
        print(f"  Outgoing mail is saved to {mail_dir} (no EMAIL_HOST set)")
    print("  Stop everything with Ctrl-C.")
    print("=" * 64, flush=True)
    bindir = Path(PY).parent
    # The Procfile says `python`: make it this virtual environment's.
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PORT"] = port
    honcho = bindir / "honcho"
    processes = [line.split(":", 1)[0] for line in (ROOT / procfile).read_text().splitlines() if ":" in line]
    if env_host:
        # A real mail server is configured: the local mail sink is not needed.
        processes = [name for name in processes if name != "mail"]
    # `-e /dev/null`: honcho would load .env itself and let it override the real environment
    # (DEBUG=true above); the settings read .env on their own, with the environment winning.
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
