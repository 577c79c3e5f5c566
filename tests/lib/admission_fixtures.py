"""The AdmissionReview fixtures (tests/fixtures/admission/, made by
tests/fixtures/make_admission_reviews.py), read by name."""
import json

from repo_paths import REPO_ROOT

ADMISSION_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "admission"


def load_fixture(name: str) -> dict:
    """tests/fixtures/admission/<name>.json, parsed."""
    return json.loads((ADMISSION_FIXTURES / f"{name}.json").read_text())
