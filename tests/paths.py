"""Where the tests find the repository and the public OTLP fixtures.

The fixtures (tests/fixtures/public/, Apache-2.0, their README names each origin) are
copied into the repository so that a clone alone runs the whole suite.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "public"
