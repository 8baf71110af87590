from django.urls import path

from sportello.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in", views.sign_in, name="login"),
    path("sign-in/<str:key>", views.redeem_link, name="link"),
    path("sign-out", views.sign_out, name="logout"),
    path("confirm/<str:token>", views.confirm_address, name="confirm"),
    path("password", views.password, name="password"),
    path("new", views.new, name="new"),
    path("tickets/<int:number>/", views.ticket, name="ticket"),
    path("tickets/<int:number>/reply", views.reply, name="reply"),
    path("tickets/<int:number>/close", views.close, name="close"),
    path("tickets/<int:number>/rate", views.rate, name="rate"),
    path("attachments/<int:attachment_id>", views.attachment, name="attachment"),
]
