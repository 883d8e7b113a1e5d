import logging
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from audience.models import Import, List
from audience.selectors import list_choices_for, lists_for
from core.forms import BootstrapFormMixin
from core.params import parse_id
from mailings.models import Mailing, Recipient
from mailings.selectors import recipients_for
from users.models import User

logger = logging.getLogger(__name__)

DUPLICATE_LIST = _("У вас уже есть список с таким названием.")
# Chips the picker may send in one submit; a selection larger than this is a list's job.
MAX_PICKED = 1000
CHOSEN_SHOWN = 20


class ListForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = List
        fields = ["name"]

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        taken = lists_for(self.owner).filter(name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(DUPLICATE_LIST, code="duplicate")
        return name


class _PickedWidget(forms.MultipleHiddenInput):
    """Renders nothing: the picked recipients are drawn as chips (each with its hidden input) by the template."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        return SafeString("")


class RecipientIdsField(forms.Field):
    """Recipient ids sent by the picker's chips; the form checks they are the owner's."""

    widget = _PickedWidget

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        if len(values) > MAX_PICKED:
            raise forms.ValidationError(
                _("Можно выбрать не больше %(max)s получателей по одному; для большего числа используйте список."),
                code="too_many",
                params={"max": MAX_PICKED},
            )
        ids = []
        for raw in values:
            pk = parse_id(str(raw))
            if pk is None:
                raise forms.ValidationError(_("Выберите получателей из списка."), code="invalid_choice")
            ids.append(pk)
        return list(dict.fromkeys(ids))


class AudienceForm(BootstrapFormMixin, forms.Form):
    """Who a mailing goes to: lists, individually picked recipients, or all of the owner's recipients.

    The page never carries one element per recipient: picks arrive as chips (at most MAX_PICKED per submit),
    and on the edit form the recipients already chosen are shown by pages and removed by id.
    """

    all_recipients = forms.BooleanField(label=_("Все мои получатели"), required=False)
    lists = forms.ModelMultipleChoiceField(
        label=_("Списки"), queryset=List.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    recipients = RecipientIdsField(label=_("Получатели по одному"), required=False)
    recipients_remove = forms.ModelMultipleChoiceField(
        label=_("Убрать из рассылки"),
        queryset=Recipient.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    clear_chosen = forms.BooleanField(label=_("Убрать всех, выбранных по одному"), required=False)

    def __init__(self, *args: Any, owner: User, mailing: Mailing | None = None, **kwargs: Any) -> None:
        self.owner, self.mailing = owner, mailing
        if mailing is not None and not (args and args[0] is not None) and "initial" not in kwargs:
            kwargs["initial"] = {"all_recipients": mailing.all_recipients, "lists": list(mailing.lists.all())}
        super().__init__(*args, **kwargs)
        # `fields` is typed as plain Field; these are model choice fields.
        cast(forms.ModelMultipleChoiceField, self.fields["lists"]).queryset = list_choices_for(owner)
        self.fields["all_recipients"].help_text = _(
            "Каждый запуск уходит всем вашим получателям на тот момент; списки и выбор по одному тогда не нужны."
        )
        if mailing is None:
            del self.fields["recipients_remove"], self.fields["clear_chosen"]
            self.chosen_count = 0
        else:
            chosen = recipients_for(owner).filter(mailings=mailing).order_by("email", "pk")
            remove = cast(forms.ModelMultipleChoiceField, self.fields["recipients_remove"])
            remove.queryset = chosen
            self.chosen_count = chosen.count()
            # Validation accepts any chosen one; the page shows the first few (more are fetched by pages).
            cast(forms.CheckboxSelectMultiple, remove.widget).choices = [
                (r.pk, r.email) for r in chosen.only("pk", "email")[:CHOSEN_SHOWN]
            ]
            if not self.chosen_count:
                del self.fields["recipients_remove"], self.fields["clear_chosen"]
            else:
                self.fields["clear_chosen"].label = _("Убрать всех, выбранных по одному (%(n)s)") % {
                    "n": self.chosen_count
                }

    def clean_recipients(self) -> list[int]:
        ids: list[int] = self.cleaned_data["recipients"]
        if ids:
            owned = set(recipients_for(self.owner).filter(pk__in=ids).values_list("pk", flat=True))
            if owned != set(ids):
                raise forms.ValidationError(_("Выберите получателей из списка."), code="invalid_choice")
        return ids

    def picked(self) -> list[Recipient]:
        """The recipients picked in this submit (for redrawing their chips), in the order picked."""
        ids = self.cleaned_data.get("recipients") if hasattr(self, "cleaned_data") else None
        if ids is None:
            sent = self.data.getlist("recipients") if isinstance(self.data, QueryDict) else []
            ids = [pk for raw in sent if (pk := parse_id(raw)) is not None][:MAX_PICKED]
        found = {r.pk: r for r in recipients_for(self.owner).filter(pk__in=ids)}
        return [found[pk] for pk in ids if pk in found]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        if cleaned.get("all_recipients"):
            return cleaned
        keeps_chosen = self.chosen_count and not cleaned.get("clear_chosen")
        removed = {r.pk for r in cleaned.get("recipients_remove") or []}
        if keeps_chosen and len(removed) >= self.chosen_count:
            keeps_chosen = False
        if not (cleaned.get("lists") or cleaned.get("recipients") or keeps_chosen):
            raise forms.ValidationError(
                _("Выберите, кому отправить: списки, получателей по одному или всех ваших получателей."),
                code="no_audience",
            )
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        """The mailing service's audience arguments from the cleaned data."""
        cleaned = self.cleaned_data
        kwargs: dict[str, Any] = {"all_recipients": bool(cleaned["all_recipients"]), "lists": cleaned["lists"]}
        if self.mailing is None:
            kwargs["recipients"] = self.picked()
            return kwargs
        removed = [r.pk for r in cleaned.get("recipients_remove") or []]
        if cleaned.get("clear_chosen"):
            kwargs["recipients"] = self.picked()
        else:
            kwargs["recipients_removed"] = removed
            kwargs["recipients_added"] = cleaned["recipients"]
        return kwargs


class BulkMembershipForm(BootstrapFormMixin, forms.Form):
    """ "Add these 3,412 to list X": the recipient list's search, applied by the server, not ids in the page."""

    ADD, REMOVE = "add", "remove"

    target = forms.ModelChoiceField(label=_("Список"), queryset=List.objects.none(), empty_label=None)
    action = forms.ChoiceField(
        label=_("Действие"), choices=[(ADD, _("Добавить в список")), (REMOVE, _("Убрать из списка"))]
    )
    q = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["target"]).queryset = list_choices_for(owner)


class MemberRemoveForm(forms.Form):
    recipient = forms.ModelChoiceField(queryset=Recipient.objects.none())

    def __init__(self, *args: Any, recipient_list: List, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["recipient"]).queryset = recipient_list.members.all()


class ImportUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label=_("Файл CSV или XLSX"),
        help_text=_(
            "CSV в UTF-8 или Windows-1251, разделитель — запятая, точка с запятой или табуляция; или книга Excel "
            "(.xlsx, первый лист). Сначала вы увидите первые строки и выберете столбцы."
        ),
    )


class ImportMappingForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Import
        fields = [
            "has_header",
            "email_column",
            "full_name_column",
            "comment_column",
            "list_column",
            "target_list",
            "policy",
        ]
        widgets = {"policy": forms.RadioSelect}

    def __init__(self, *args: Any, owner: User, columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [(str(i), name) for i, name in enumerate(columns)]
        none: list[tuple[str, Any]] = [("", _("— не загружать —"))]
        for name in ("email_column", "full_name_column", "comment_column", "list_column"):
            self.fields[name] = forms.TypedChoiceField(
                label=self.fields[name].label,
                choices=(choices if name == "email_column" else none + choices),
                coerce=int,
                empty_value=None,
                required=name == "email_column",
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        self.fields["email_column"].label = _("Столбец с email")
        self.fields["full_name_column"].label = _("Столбец с Ф. И. О.")
        self.fields["comment_column"].label = _("Столбец с комментарием")
        self.fields["list_column"].label = _("Столбец со списком")
        self.fields["list_column"].help_text = _("Название списка в каждой строке; новые списки будут созданы.")
        target_list = cast(forms.ModelChoiceField, self.fields["target_list"])
        target_list.queryset = list_choices_for(owner)
        target_list.empty_label = _("— не добавлять —")
        self.fields["target_list"].label = _("Добавить всех загруженных в список")
        self.fields["policy"].label = _("Адреса, которые у вас уже есть")
        self.fields["has_header"].label = _("Первая строка — заголовки столбцов")
