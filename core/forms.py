from typing import TYPE_CHECKING, Any

from django import forms

if TYPE_CHECKING:
    # The mixin is only ever mixed into a form: typed as one, mypy checks what it uses of the form.
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class BootstrapFormMixin(_FormBase):
    """Gives every widget Bootstrap's classes and marks invalid fields.

    Invalid fields are marked after validation (in full_clean), never in
    __init__: validating there would run before a subclass narrows its choice
    querysets, and forged ids would be accepted.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.RadioSelect):
                # Also CheckboxSelectMultiple (a subclass): its class would go on the wrapping <div> as well as
                # on each option, and "form-control" turns each checkbox into a text box. Plain options it is.
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "")
            widget.attrs["class"] = f"{classes} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
