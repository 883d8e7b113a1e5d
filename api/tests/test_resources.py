"""The resources through the API: the web's forms, messages and services behind each operation."""

from datetime import timedelta

from django.utils import timezone

from api.tests.conftest import ApiClient
from mailings.models import Attempt, Mailing, Message, Recipient
from users.models import User


def test_it_creates_reads_updates_and_deletes_a_recipient(api: ApiClient, owner: User) -> None:
    created = api.post("recipients", {"email": "anna@example.com", "full_name": "Анна"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.get(f"recipients/{pk}").json()["email"] == "anna@example.com"

    changed = api.patch(f"recipients/{pk}", {"full_name": "Анна К."})
    assert changed.status_code == 200
    assert Recipient.objects.get(pk=pk).full_name == "Анна К."

    assert api.delete(f"recipients/{pk}").status_code == 204
    assert not Recipient.objects.filter(pk=pk).exists()


def test_it_answers_the_forms_messages_as_problem_details_in_the_language_asked(owner: User) -> None:
    from api.tests.conftest import token_for

    token = token_for(owner)
    Recipient.objects.create(owner=owner, email="anna@example.com", full_name="Анна")
    ru = ApiClient(token).post("recipients", {"email": "ANNA@example.com", "full_name": "Анна"})
    en = ApiClient(token, language="en").post("recipients", {"email": "not an address", "full_name": ""})

    assert ru.status_code == 422
    assert ru["Content-Type"] == "application/problem+json"
    problem = ru.json()
    assert problem["status"] == 422 and problem["title"] and problem["type"]
    assert problem["errors"] == {"email": ["У вас уже есть получатель с таким email."]}
    assert en.status_code == 422
    assert en.json()["errors"]["email"] == ["Enter a valid email address, for example john@example.com."]
    assert en.json()["errors"]["full_name"] == ["This field is required."]


def test_the_search_and_the_cursor_walk_every_recipient_once(api: ApiClient, owner: User) -> None:
    Recipient.objects.bulk_create(
        [Recipient(owner=owner, email=f"c{i}@example.com", full_name=f"Клиент {i}") for i in range(25)]
    )
    seen, cursor = [], None
    while True:
        answer = api.get("recipients?limit=10" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [row["email"] for row in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"c{i}@example.com" for i in range(25))
    found = api.get("recipients?q=c17@").json()["items"]
    assert [row["email"] for row in found] == ["c17@example.com"]
    assert api.get("recipients?cursor=garbage").status_code == 422


def test_the_bulk_upsert_gives_a_result_per_row(api: ApiClient, owner: User) -> None:
    Recipient.objects.create(owner=owner, email="old@example.com", full_name="Старый", comment="VIP")
    answer = api.post(
        "recipients/upsert",
        {
            "recipients": [
                {"email": "new@example.com", "full_name": "Новый"},
                {"email": "OLD@example.com", "full_name": "Обновлён"},
                {"email": "broken", "full_name": "Ошибка"},
                {"email": "new@example.com", "full_name": "Повтор"},
                {"email": "same@example.com", "full_name": "Тот же"},
            ]
        },
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [r["status"] for r in body["results"]] == ["created", "updated", "invalid", "invalid", "created"]
    assert body["results"][2]["errors"]["email"]
    assert (body["created"], body["updated"], body["invalid"]) == (2, 1, 2)
    old = Recipient.objects.get(owner=owner, email__iexact="old@example.com")
    assert (old.full_name, old.comment) == ("Обновлён", "VIP")
    again = api.post("recipients/upsert", {"recipients": [{"email": "same@example.com", "full_name": "Тот же"}]})
    assert again.json()["results"][0]["status"] == "unchanged"


def test_lists_and_membership(api: ApiClient, owner: User, other_user: User) -> None:
    mine = Recipient.objects.create(owner=owner, email="a@example.com", full_name="А")
    theirs = Recipient.objects.create(owner=other_user, email="b@example.com", full_name="Б")
    created = api.post("lists", {"name": "VIP клиенты"})
    assert created.status_code == 201
    pk = created.json()["id"]
    assert api.post("lists", {"name": "vip клиенты"}).json()["errors"] == {
        "name": ["У вас уже есть список с таким названием."]
    }

    added = api.post(f"lists/{pk}/members", {"recipient_ids": [mine.pk, theirs.pk]})

    assert added.json() == {"changed": 1}
    assert [r["id"] for r in api.get(f"lists/{pk}/members").json()["items"]] == [mine.pk]
    assert api.post(f"lists/{pk}/members/remove", {"recipient_ids": [mine.pk]}).json() == {"changed": 1}


def _mailing_body(message: Message, recipient: Recipient) -> dict[str, object]:
    start = timezone.now() + timedelta(days=1)
    return {
        "message_id": message.pk,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(days=2)).isoformat(),
        "recipient_ids": [recipient.pk],
    }


def test_a_mailing_is_created_with_the_forms_rules_and_sent_now(api: ApiClient, owner: User, settings: object) -> None:
    message = api.post("messages", {"subject": "Весна", "body": "Скидки, {{ имя }}!"}).json()
    assert api.post("messages", {"subject": "{{ нет", "body": "x"}).json()["errors"]["subject"]
    recipient = Recipient.objects.create(owner=owner, email="a@example.com", full_name="А")
    body = _mailing_body(Message.objects.get(pk=message["id"]), recipient)
    wrong = api.post("mailings", {**body, "end_at": body["start_at"]})
    assert wrong.status_code == 422
    assert wrong.json()["errors"]["end_at"] == ["Окончание рассылки должно быть позже её начала."]

    created = api.post("mailings", body)
    assert created.status_code == 201, created.content
    mailing = created.json()
    assert mailing["recipient_count"] == 1 and mailing["status"] == "created"

    Mailing.objects.filter(pk=mailing["id"]).update(start_at=timezone.now() - timedelta(minutes=1))
    sent = api.post(f"mailings/{mailing['id']}/send")
    assert sent.status_code == 202, sent.content
    attempt = Attempt.objects.get(pk=sent.json()["id"])
    assert attempt.trigger == Attempt.Trigger.MANUAL and attempt.total_count == 1
    refused = api.post(f"mailings/{mailing['id']}/send")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Рассылка уже отправляется: дождитесь окончания текущей отправки."
    ledger = api.get(f"attempts/{attempt.pk}/deliveries?state=pending").json()["items"]
    assert [d["email"] for d in ledger] == ["a@example.com"]
    assert api.get(f"attempts/{attempt.pk}/deliveries?state=nonsense").status_code == 422
    assert api.get("stats").json()["attempts_in_progress"] == 1


def test_an_address_is_unsubscribed_through_the_api_and_consents_are_read(api: ApiClient, owner: User) -> None:
    from consents.models import Kind, Method
    from consents.services import consent_record_add
    from suppressions.models import Suppression

    consent_record_add(owner_id=owner.pk, email="anna@example.com", kind=Kind.ADVERTISING, method=Method.MANUAL)

    created = api.post("suppressions", {"email": "Anna@Example.com", "reason": "просила"})
    again = api.post("suppressions", {"email": "anna@example.com"})
    wrong = api.post("suppressions", {"email": "not an address"})

    assert created.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    assert Suppression.objects.get(owner=owner).source == Suppression.Source.API
    assert wrong.status_code == 422 and wrong.json()["errors"]["email"]
    assert [s["email"] for s in api.get("suppressions").json()["items"]] == ["Anna@Example.com"]
    consents = api.get("consents?email=ANNA@example.com").json()["items"]
    assert [(c["kind"], c["method"]) for c in consents] == [("advertising", "manual")]
