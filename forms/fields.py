"""Fields shared by the forms: a decimal field that takes only amounts a column can hold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField as WTFormsDecimalField

# Numeric(14, 2): twelve digits before the point.
LARGEST_AMOUNT = Decimal("999999999999.99")


class DecimalField(WTFormsDecimalField):
    """WTForms' DecimalField, refusing NaN, infinities and numbers no amount column holds.

    Decimal("NaN"), Decimal("sNaN") and Decimal("Infinity") parse, and then break the
    range validators (a signalling NaN cannot be compared) or the rounding of amounts.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is None:
            return
        if not self.data.is_finite():
            self.data = None
            raise ValueError(str(_l("Not a valid decimal value.")))
        if abs(self.data) > LARGEST_AMOUNT:
            self.data = None
            raise ValueError(str(_l("The number is too large.")))
