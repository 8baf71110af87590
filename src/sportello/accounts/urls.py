from django.urls import path

from sportello.accounts import settings_views, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke", views.revoke_token, name="token-revoke"),
    path("invitation/<str:token>/", settings_views.invitation, name="invitation"),
]
