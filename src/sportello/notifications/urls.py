from django.urls import path

from sportello.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("menu", views.menu, name="menu"),
    path("preferences/", views.preferences, name="preferences"),
    path("read-all", views.read_all, name="read_all"),
    path("<int:pk>/open", views.open_notification, name="open"),
    path("<int:pk>/read", views.read, name="read"),
]
