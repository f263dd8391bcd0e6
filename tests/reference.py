"""The reference material the tests use, kept in the repository so a clean clone has it."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "b24-examples"
"""Real request, response and event bodies of the Bitrix24 API, one per file (see README)."""
