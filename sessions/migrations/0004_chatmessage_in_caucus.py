# Issue 11, M1: whether a chat line was said in a private caucus. Lines written before
# this field existed are judged conservatively: a line is open only when its audience
# held every participant the room ever had; any line heard by fewer is kept as a caucus
# line, private to its audience.

from django.db import migrations, models


def mark_open_lines(apps, schema_editor):
    ChatMessage = apps.get_model("mediation", "ChatMessage")
    RoomParticipant = apps.get_model("mediation", "RoomParticipant")
    session_ids = ChatMessage.objects.values_list("session_id", flat=True).distinct()
    for session_id in session_ids.iterator():
        room = set(
            RoomParticipant.objects.filter(session_id=session_id).values_list("peer_id", flat=True)
        )
        open_ids = [
            pk
            for pk, audience in ChatMessage.objects.filter(session_id=session_id).values_list(
                "pk", "audience"
            )
            if room and room <= set(audience or [])
        ]
        ChatMessage.objects.filter(pk__in=open_ids).update(in_caucus=False)


class Migration(migrations.Migration):
    dependencies = [
        ("mediation", "0003_roomparticipant_role_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatmessage",
            name="in_caucus",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(mark_open_lines, migrations.RunPython.noop),
    ]
