"""Where the public OTLP fixtures live: ../shared/fixtures beside the checkout (as in CI)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
