from django.urls import path

from sportello.automation import views

urlpatterns = [
    path("tickets/<int:number>/macros", views.macro_picker, name="macro-picker"),
    path("tickets/<int:number>/macros/insert", views.insert_macro, name="macro-insert"),
    path("tickets/<int:number>/macros/<int:macro_id>/preview", views.macro_preview, name="macro-preview"),
]
