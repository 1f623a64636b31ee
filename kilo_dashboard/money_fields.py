"""The form field for an amount of dollars a person types; it cleans to integer cents."""

from django import forms

from . import money


class DollarsField(forms.Field):
    """ "10.50", "$1,050" or "10" -> 1050 / 105000 / 1000 cents, parsed by money.parse_dollars.

    Refuses more than two decimals, negatives, non-numbers and absurd sizes with a message that
    says which; `min_cents`/`max_cents` bound the amount (with `range_message` if given)."""

    def __init__(
        self,
        *,
        min_cents: int | None = None,
        max_cents: int | None = None,
        range_message: str = "",
        **kwargs: object,
    ) -> None:
        self.min_cents = min_cents
        self.max_cents = max_cents
        self.range_message = range_message
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off"})
        return attrs

    def prepare_value(self, value: object) -> object:
        # An int initial value is cents: show it as form-field text ("10.50", never "10").
        if isinstance(value, int) and not isinstance(value, bool):
            return money.cents_field(value)
        return value

    def to_python(self, value: object) -> int | None:
        text = "" if value is None else str(value).strip()
        if text in self.empty_values:
            return None
        if len(text) > 32:
            raise forms.ValidationError("That amount is too long to be a price.", code="invalid")
        try:
            cents = money.parse_dollars_to_cents(text)
        except money.MoneyInputError as error:
            raise forms.ValidationError(str(error), code="invalid") from None
        too_small = self.min_cents is not None and cents < self.min_cents
        too_large = self.max_cents is not None and cents > self.max_cents
        if too_small or too_large:
            raise forms.ValidationError(self._range_message(), code="range")
        return cents

    def _range_message(self) -> str:
        if self.range_message:
            return self.range_message
        if self.min_cents is not None and self.max_cents is not None:
            low, high = money.format_cents(self.min_cents), money.format_cents(self.max_cents)
            return f"Enter an amount between {low} and {high}."
        if self.min_cents is not None:
            return f"Enter at least {money.format_cents(self.min_cents)}."
        return f"Enter at most {money.format_cents(self.max_cents)}."
