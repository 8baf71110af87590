"""Mark the identities we already know belong to their customer as verified.

Until now nothing told a claimed address from a proven one, so this looks at what the database
remembers:

1. An email address that an inbound mail came from (the entry's recorded From, on a thread entry
   of that customer): as verified as mail gets. Bounces are internal entries and do not count.
2. The address of a portal account that has signed in (a spent sign-in link, or a last login):
   the first link of a portal account goes to the address its account was made with.

Everything else stays unverified: addresses typed into the web form or a chat, added by agents or
through the API, phone numbers and chat handles. Nothing is ever marked unverified here, so
running it again is harmless; going back only drops the column.
"""

from django.db import migrations
from django.db.models import Q

BATCH = 2000


def verify_known(apps, schema_editor):
    Identity = apps.get_model("customers", "Identity")
    Entry = apps.get_model("tickets", "Entry")
    Customer = apps.get_model("customers", "Customer")
    MagicLink = apps.get_model("portal", "MagicLink")

    senders = set()
    mail = Entry.objects.filter(channel="email", direction="inbound", internal=False, author_customer__isnull=False)
    for customer_id, address in mail.values_list("author_customer_id", "metadata__from__address").iterator(
        chunk_size=BATCH
    ):
        if isinstance(address, str) and address:
            senders.add((customer_id, address.strip().lower()))

    signed_in = Customer.objects.filter(user__isnull=False).filter(
        Q(user__last_login__isnull=False)
        | Q(user__in=MagicLink.objects.filter(used_at__isnull=False).values("user_id"))
    )
    for customer_id, address in signed_in.values_list("pk", "user__email").iterator(chunk_size=BATCH):
        if address:
            senders.add((customer_id, address.strip().lower()))

    by_customer = {}
    for customer_id, address in senders:
        by_customer.setdefault(customer_id, set()).add(address)
    ids = []
    emails = Identity.objects.filter(kind="email", verified=False)
    for pk, customer_id, value in emails.values_list("pk", "customer_id", "value").iterator(chunk_size=BATCH):
        if value in by_customer.get(customer_id, ()):
            ids.append(pk)
    for start in range(0, len(ids), BATCH):
        Identity.objects.filter(pk__in=ids[start : start + BATCH]).update(verified=True)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_identity_verified"),
        ("tickets", "0004_delivery_retries"),
        ("portal", "0001_initial"),
    ]

    operations = [migrations.RunPython(verify_known, migrations.RunPython.noop)]
