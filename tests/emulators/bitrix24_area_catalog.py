"""Dictionaries of the Bitrix24 emulator: lead stages and the product catalogue."""

from __future__ import annotations

from typing import Any

from tests.emulators.bitrix24_crm import PRODUCT_FIELDS, format_money
from tests.emulators.bitrix24_state import EmulatorState


class CatalogArea(EmulatorState):
    """Lead stages (crm.status) and products (crm.product)."""

    def add_lead_stage(self, status_id: str, name: str, sort: int, color: str = "#ACE9FB") -> None:
        """Add a custom lead stage (semantics follow from SORT relative to CONVERTED)."""
        self.statuses.add("STATUS", status_id, name, sort, color=color)

    def add_product(
        self, name: str, price: float, currency: str = "RUB", *, sort: int = 100
    ) -> int:
        """Add a catalogue product; returns its id."""
        row: dict[str, Any] = {spec.name: None for spec in PRODUCT_FIELDS}
        row.update(
            {
                "NAME": name,
                "ACTIVE": "Y",
                "SORT": str(sort),
                "PRICE": format_money(price),
                "CURRENCY_ID": currency,
                "VAT_INCLUDED": "Y",
                "MEASURE": "9",
                "SECTION_ID": None,
            }
        )
        return self.products_table.insert(row)

    def _lead_sort_key(self, name: str, raw: Any) -> Any:
        if name != "STATUS_ID" or raw is None:
            return None
        entry = self.statuses.find("STATUS", str(raw))
        return int(entry["SORT"]) if entry else 0

    def lead_stage_ids(self) -> list[str]:
        """Lead stage ids in SORT order."""
        return [r["STATUS_ID"] for r in self.statuses.entries("STATUS")]
