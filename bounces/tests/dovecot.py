"""A real IMAP server for the tests: Dovecot (Debian's dovecot-imapd) run as the current user on a free port.

A throw-away directory holds its configuration (any login with PASSWORD is a user), the Maildirs,
its state and its sockets. Nothing privileged: listen 127.0.0.1, no SSL, no privileged port, no chroot.
"""

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "app-password-123"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
instance_name = vestnik-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_login_user = {login_user}
log_path = {base}/dovecot.log
mail_location = maildir:{base}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = 0
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
"""


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = _free_port()
        self.users: set[str] = set()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Dovecot":
        for sub in ("run", "state", "mail", "home"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            # Dovecot refuses root for its login processes and mail access: the package's own users instead.
            internal, login = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
            uid, gid = internal.pw_uid, internal.pw_gid
            self.base.chmod(0o755)
            for sub in ("mail", "home"):
                os.chown(self.base / sub, uid, gid)
        else:
            internal = login = pwd.getpwuid(os.getuid())
            uid, gid = os.getuid(), os.getgid()
        config = CONFIG.format(
            base=self.base,
            port=self.port,
            internal_user=internal.pw_name,
            login_user=login.pw_name,
            uid=uid,
            gid=gid,
            password=PASSWORD,
        )
        (self.base / "dovecot.conf").write_text(config)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.base / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def user(self, login: str) -> str:
        """A mailbox user's login: any login exists (a static passdb), every password is PASSWORD."""
        self.users.add(login)
        return login

    def client(self, login: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(login, PASSWORD)
        return client

    def append(self, login: str, raw: bytes, folder: str = "INBOX") -> None:
        data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        client = self.client(login)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, data)
        finally:
            client.logout()

    def flags(self, login: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        client = self.client(login)
        try:
            client.select_folder(folder, readonly=True)
            return {uid: tuple(found) for uid, found in client.get_flags(client.search("ALL")).items()}
        finally:
            client.logout()
