"""Cases deferred before 0014 have no resume day, and the worker would never bring them back: they
come back a month after the upgrade (the default a deferral now takes), unless a dispatcher resumes
them or defers them again to another day before that."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone


def give_a_day(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    day = timezone.localdate() + timedelta(days=30)
    Case.objects.filter(status="deferred", resume_on__isnull=True).update(resume_on=day)


class Migration(migrations.Migration):
    dependencies = [("cases", "0014_case_resume_on")]

    operations = [migrations.RunPython(give_a_day, migrations.RunPython.noop)]
