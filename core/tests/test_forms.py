from typing import Any

import pytest
from django import forms

from core.forms import BootstrapFormMixin
from users.models import User


class _PickUser(BootstrapFormMixin, forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all())
    note = forms.CharField()

    def __init__(self, *args: Any, allowed: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(pk=allowed.pk)


@pytest.mark.django_db
def test_a_narrowed_queryset_still_rejects_other_ids(owner: User, other_user: User) -> None:
    form = _PickUser(data={"user": other_user.pk, "note": "x"}, allowed=owner)
    assert not form.is_valid()
    assert "user" in form.errors
    assert "is-invalid" in form.fields["user"].widget.attrs["class"]
    assert "is-invalid" not in form.fields["note"].widget.attrs["class"]


@pytest.mark.django_db
def test_widgets_get_bootstrap_classes(owner: User) -> None:
    form = _PickUser(allowed=owner)
    assert form.fields["user"].widget.attrs["class"] == "form-select"
    assert form.fields["note"].widget.attrs["class"] == "form-control"


def test_radio_and_multiple_checkbox_options_are_not_styled_as_text_boxes() -> None:
    from django import forms as django_forms

    from core.forms import BootstrapFormMixin

    class Choices(BootstrapFormMixin, django_forms.Form):
        one = django_forms.ChoiceField(choices=[("a", "A")], widget=django_forms.RadioSelect)
        many = django_forms.MultipleChoiceField(choices=[("a", "A")], widget=django_forms.CheckboxSelectMultiple)

    html = str(Choices())
    assert "form-control" not in html and "form-select" not in html
