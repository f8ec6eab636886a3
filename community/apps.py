from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"

    def ready(self) -> None:
        from community import signals  # noqa: F401  (connects the login audit receivers)
