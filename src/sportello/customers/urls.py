from django.urls import path

from sportello.customers import views

urlpatterns = [
    path("customers/<int:customer_id>/", views.customer_detail, name="customer"),
    path("customers/<int:customer_id>/update", views.customer_update, name="customer-update"),
    path("customers/<int:customer_id>/identities", views.identity_add, name="customer-identity-add"),
    path(
        "customers/<int:customer_id>/identities/<int:identity_id>/remove",
        views.identity_remove,
        name="customer-identity-remove",
    ),
    path("customers/<int:customer_id>/integrations", views.customer_integrations, name="customer-integrations"),
    path("customers/<int:customer_id>/notes", views.note_add, name="customer-note-add"),
    path("customers/<int:customer_id>/merge", views.customer_merge, name="customer-merge"),
    path("customers/merges/<int:merge_id>/undo", views.customer_unmerge, name="customer-unmerge"),
    path("organizations/", views.organization_list, name="organizations"),
    path("organizations/<int:organization_id>/", views.organization_detail, name="organization"),
    path("organizations/<int:organization_id>/update", views.organization_update, name="organization-update"),
]
