from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "civicgrid.people"
    label = "people"
