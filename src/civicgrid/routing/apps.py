from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "civicgrid.routing"
    label = "routing"
