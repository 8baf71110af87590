from django.urls import path

from sportello.webform import views

app_name = "webform"

urlpatterns = [
    path("new", views.new, name="new"),
    path("thanks/<str:token>", views.thanks, name="thanks"),
    path("embed", views.embed, name="embed"),
    path("embed/thanks/<str:token>", views.embed_thanks, name="embed-thanks"),
]
