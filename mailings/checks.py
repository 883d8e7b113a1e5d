"""`manage.py check --deploy` warnings about how Vestnik's mail will look to receiving servers."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import Error as CheckError
from django.core.checks import Warning as CheckWarning

from mailings.delivery.compose import helo_domain, message_id_domain
from mailings.delivery.signing import DkimConfigError, dkim_key

_LOCAL_SUFFIXES = (".local", ".localhost", ".localdomain", ".internal", ".lan")


def _is_local(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    return domain in ("localhost", "localdomain", "") or "." not in domain or domain.endswith(_LOCAL_SUFFIXES)


def mail_domains_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckWarning]:
    warnings = []
    for setting, domain in (("EMAIL_HELO_DOMAIN", helo_domain()), ("MESSAGE_ID_DOMAIN", message_id_domain())):
        if _is_local(domain):
            warnings.append(
                CheckWarning(
                    f"{setting} resolves to {domain!r}, a local name: receiving servers score it as spam "
                    "(HELO_LOCALHOST, FSL_HELO_NON_FQDN_1).",
                    hint=f"Set {setting} (or DEFAULT_FROM_EMAIL) to a public domain you control.",
                    id="mailings.W001" if setting == "EMAIL_HELO_DOMAIN" else "mailings.W002",
                )
            )
    return warnings


def dkim_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckError]:
    """A DKIM key that is half configured or unreadable would fail every message at send time."""
    try:
        dkim_key()
    except DkimConfigError as exc:
        return [CheckError(str(exc), hint="Set all three DKIM_* settings, or none.", id="mailings.E001")]
    return []
