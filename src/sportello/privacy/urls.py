"""The privacy pages outside the settings area: a customer's export and erasure (agents), and the
portal's "my data" page with its download."""

from django.urls import path

from sportello.privacy import views

urlpatterns = [
    path("customers/<int:customer_id>/privacy/export", views.customer_export, name="privacy-customer-export"),
    path("customers/<int:customer_id>/privacy/erase", views.customer_erase, name="privacy-customer-erase"),
    path("portal/my-data", views.portal_my_data, name="privacy-portal"),
    path("portal/my-data/download/<str:token>", views.portal_download, name="privacy-download"),
]
