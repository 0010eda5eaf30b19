from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "civicgrid.intake"
    label = "intake"
