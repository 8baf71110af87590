"""allauth's pages under /auth/ (single sign-on callbacks, two-factor), and the agent's two-factor page."""

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from sportello.sso import views


def not_here(request: HttpRequest, *args: object) -> HttpResponse:
    raise Http404("Passwords and addresses are managed in Sportello itself")


urlpatterns = [
    # allauth's local-account pages (sign-up, password reset and change, email addresses): not ours.
    re_path(r"^(signup|password|email|confirm-email|login/code|reauthenticate/code|phone)/", not_here),
    # allauth sends people to its own sign-in page (after a cancelled sign-in, for instance): ours.
    path("login/", RedirectView.as_view(pattern_name="login", query_string=True), name="account_login"),
    path("two-factor/", views.two_factor, name="sso-two-factor"),
    # allauth's two-factor overview is ours: its pages return there after each change.
    path("2fa/", RedirectView.as_view(pattern_name="sso-two-factor"), name="mfa_index"),
    path("", include("allauth.urls")),
]
