"""The request type of the views that require a signed-in user."""

from django.http import HttpRequest

from users.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request that `login_required` let through: `user` is a signed-in User, never AnonymousUser.

    Only for annotating such views (and helpers they call); it is never instantiated.
    """

    user: User
