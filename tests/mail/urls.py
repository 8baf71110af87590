"""The project's URLs plus the mail app's, as src/sportello/urls.py will include them."""

from django.urls import include, path

from sportello.urls import urlpatterns as project

urlpatterns = [path("mail/", include("sportello.mail.urls")), *project]
