from django.apps import AppConfig


class FieldsConfig(AppConfig):
    name = "sportello.fields"
    label = "fields"
    verbose_name = "Custom fields"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from sportello.core import lookups
        from sportello.fields.models import CustomField

        # The definitions are kept per process under the lookups' version (fields/services.py):
        # every save or delete of one, from any path (settings page, admin, shell), changes it.
        post_save.connect(lookups.bump, sender=CustomField, dispatch_uid="lookups-save-customfield")
        post_delete.connect(lookups.bump, sender=CustomField, dispatch_uid="lookups-delete-customfield")
