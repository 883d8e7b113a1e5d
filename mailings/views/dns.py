"""The DNS records the operator publishes so that receiving servers trust Vestnik's mail (managers only)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from mailings.delivery.compose import helo_domain
from mailings.delivery.signing import DkimConfigError, dkim_key


@login_required
@require_safe
def mail_dns(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("users.view_all_users"):
        raise PermissionDenied
    domain = helo_domain()
    context: dict[str, object] = {"domain": domain, "dkim": None, "dkim_error": ""}
    try:
        key = dkim_key()
    except DkimConfigError as exc:
        context["dkim_error"] = str(exc)
    else:
        if key is not None:
            context["dkim"] = {"name": f"{key.selector}._domainkey.{key.domain}", "value": key.public_record()}
            domain = key.domain
    context["spf"] = {"name": domain, "value": "v=spf1 mx a ~all"}
    context["dmarc"] = {"name": f"_dmarc.{domain}", "value": f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}"}
    return render(request, "mailings/mail_dns.html", context)
