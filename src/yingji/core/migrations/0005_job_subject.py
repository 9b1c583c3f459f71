import django.db.models.deletion
from django.db import migrations, models


def backfill_feed_risk_subjects(apps, schema_editor):
    """Queued and past risk-feed jobs are about the site in their params."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Job = apps.get_model("core", "Job")
    ct = ContentType.objects.filter(app_label="registry", model="site").first()
    if ct is None:
        return
    batch = []
    for pk, params in Job.objects.filter(kind="hazards.feed_risk", subject_id__isnull=True).values_list(
            "pk", "params").iterator(chunk_size=2000):
        try:
            site_id = int((params or {}).get("site"))
        except (TypeError, ValueError, AttributeError):
            continue
        batch.append(Job(pk=pk, subject_type_id=ct.pk, subject_id=site_id))
        if len(batch) >= 2000:
            Job.objects.bulk_update(batch, ["subject_type", "subject_id"])
            batch = []
    if batch:
        Job.objects.bulk_update(batch, ["subject_type", "subject_id"])


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0004_job_heartbeat_retention'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='subject_id',
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='subject_type',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contenttypes.contenttype'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['subject_type', 'subject_id'], name='core_job_subject'),
        ),
        migrations.RunPython(backfill_feed_risk_subjects, migrations.RunPython.noop),
    ]
