"""Where the shared reference material lives: `../shared` beside the project's root."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT_ROOT.parent / "shared" / "reference" / "b24-examples"
"""Real request, response and event bodies of the Bitrix24 API, one per file."""
