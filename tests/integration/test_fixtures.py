"""The AdmissionReview fixtures in tests/fixtures/admission/ are exactly what
tests/fixtures/make_admission_reviews.py makes from kubectl's output and the vendored samples
(third_party/kubernetes/admissionreview-samples), so they cannot drift from their sources."""
from fixtures.make_admission_reviews import stale_fixtures
from repo_paths import deps_binary_or_skip


def test_committed_fixtures_are_what_the_generator_makes():
    deps_binary_or_skip("kubectl")  # the generator runs `kubectl create --dry-run=client`
    assert stale_fixtures() == [], "run `make fixtures` and commit the result"
