from django.apps import AppConfig


class TipsConfig(AppConfig):
    name = "tips"
