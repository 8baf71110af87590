from django.urls import path

from sportello.fields import views

app_name = "fields"
urlpatterns = [
    path("", views.field_list, name="settings"),
    path("<int:field_id>/", views.field_edit, name="edit"),
    path("<int:field_id>/move", views.field_move, name="move"),
    path("<int:field_id>/active", views.field_active, name="active"),
]
