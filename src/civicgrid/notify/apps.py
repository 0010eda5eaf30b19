from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "civicgrid.notify"
    label = "notify"
