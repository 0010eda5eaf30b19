"""The list indexes carry the scope's columns (models.SCOPE_COLUMNS); two small assignment indexes.

CREATE INDEX blocks writes to the table while it builds: about 2-5 s per index at 1,000,000 cases on
the benchmark machine. On a bigger live installation, either accept that pause or create the indexes
by hand with CREATE INDEX CONCURRENTLY (the SQL: `civicgrid sqlmigrate cases 0006`), drop the old
ones, and record the migration with `civicgrid migrate cases 0006 --fake`.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0005_step_recategorize'),
        ('core', '0003_job_lease'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='case',
            name='case_due_at_open',
        ),
        migrations.RemoveIndex(
            model_name='case',
            name='case_status_created',
        ),
        migrations.RemoveIndex(
            model_name='case',
            name='case_category_created',
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('status__in', ('dispatched', 'signed'))), fields=['due_at'], include=('territory_path', 'lead_unit', 'reporter_user', 'created_by', 'id', 'status'), name='case_due_open_scope'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['status', 'created_at'], include=('territory_path', 'lead_unit', 'reporter_user', 'created_by', 'id'), name='case_status_scope'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['category', 'created_at'], include=('territory_path', 'lead_unit', 'reporter_user', 'created_by', 'id', 'status'), name='case_category_scope'),
        ),
        migrations.AddIndex(
            model_name='caseassignment',
            index=models.Index(condition=models.Q(('active', True), ('role', 'assist')), fields=['unit_path'], name='assignment_assist_path', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='caseassignment',
            index=models.Index(condition=models.Q(('active', True), ('signed_at__isnull', True)), fields=['unit_path'], name='assignment_unsigned_path', opclasses=['varchar_pattern_ops']),
        ),
    ]
