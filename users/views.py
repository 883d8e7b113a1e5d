from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def register(request: HttpRequest) -> HttpResponse:
    return render(request, "users/register.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "users/profile.html")
