from django.apps import AppConfig


class ForumConfig(AppConfig):
    name = "sportello.forum"
    label = "forum"
    verbose_name = "Community forum"

    def ready(self) -> None:
        from sportello.forum.tasks import register

        register()
