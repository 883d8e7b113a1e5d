"""Phone numbers saved as typed before are rewritten as E.164; one that does not parse is left as it is."""

import phonenumbers
from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("users", "User")
    for user in User.objects.exclude(phone="").only("pk", "phone", "country").iterator():
        try:
            region = getattr(user.country, "code", user.country) or "RU"
            number = phonenumbers.parse(user.phone, str(region).upper())
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 != user.phone:
            User.objects.filter(pk=user.pk).update(phone=e164)


class Migration(migrations.Migration):
    dependencies = [("users", "0002_auditevent")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
