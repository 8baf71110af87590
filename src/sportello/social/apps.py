from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "sportello.social"
    label = "social"
    verbose_name = "Social and messaging channels"

    def ready(self) -> None:
        from sportello.social.delivery import register_adapter

        # Replies on social tickets go back through the platform the conversation came from.
        register_adapter()
