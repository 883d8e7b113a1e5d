from typing import Any

from django import forms


class BootstrapFormMixin:
    """Gives every widget Bootstrap's classes and marks invalid fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "")
            widget.attrs["class"] = f"{classes} {css}".strip()
            if self.is_bound and name in self.errors:  # type: ignore[attr-defined]
                widget.attrs["class"] += " is-invalid"
