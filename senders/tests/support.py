"""Real SMTP servers that ask for a login (aiosmtpd with AUTH), and owners' accounts pointing at them."""

from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from senders.models import SmtpAccount
from senders.services import AccountSettings, smtp_account_create
from tests.support import FreePortController, SinkHandler
from users.models import User


class Authenticator:
    """Accepts exactly one login and password; `refuse_all` refuses every login (a wrong app password)."""

    def __init__(self, *, login: str, password: str, refuse_all: bool = False) -> None:
        self.login, self.password, self.refuse_all = login, password, refuse_all
        self.tries: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.tries.append(login)
        ok = not self.refuse_all and login == self.login and password == self.password
        return AuthResult(success=ok, handled=False)


class AuthSmtpServer:
    """A real aiosmtpd server on 127.0.0.1 that checks AUTH (over plain TCP, as tests have no certificates)."""

    def __init__(self, *, login: str, password: str, refuse_all: bool = False) -> None:
        self.handler = SinkHandler()
        self.authenticator = Authenticator(login=login, password=password, refuse_all=refuse_all)
        self.controller = FreePortController(
            self.handler,
            hostname="127.0.0.1",
            port=0,
            authenticator=self.authenticator,
            # AUTH is offered without TLS (tests have no certificates); Vestnik logs in whenever a login is set.
            auth_require_tls=False,
        )

    def start(self) -> "AuthSmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)


def account_for(
    owner: User,
    server: AuthSmtpServer,
    *,
    name: str,
    login: str,
    password: str,
    from_email: str,
    from_name: str = "",
    reply_to: str = "",
    per_day: int = 0,
    per_hour: int = 0,
    per_second: float = 0.0,
) -> SmtpAccount:
    return smtp_account_create(
        owner=owner,
        values=AccountSettings(
            name=name,
            host="127.0.0.1",
            port=server.port,
            security=SmtpAccount.Security.NONE,
            login=login,
            from_email=from_email,
            from_name=from_name,
            reply_to=reply_to,
            limit_per_second=per_second,
            limit_per_hour=per_hour,
            limit_per_day=per_day,
        ),
        password=password,
    )
