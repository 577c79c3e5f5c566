"""batch-offload.io/enabled over real TLS: "true" offloads, "false" leaves the Job alone, and any
other value is denied naming the annotation, the value and the allowed values, as every other bad
annotation value is (a typo used to leave the Job silently running on the cluster)."""
import pytest

from admission_fixtures import load_fixture

ENABLED = "batch-offload.io/enabled"


def review_with(value):
    review = load_fixture("kubectl-job")
    review["request"]["object"]["metadata"]["annotations"][ENABLED] = value
    return review


@pytest.mark.parametrize("value", ["TRUE", "True", "yes", "", "1", "true "])
def test_a_value_other_than_true_or_false_is_denied(webhook, value):
    response = webhook.review(review_with(value))["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert response["status"]["message"] == (
        f'annotation {ENABLED} has value "{value}": allowed is "true" or "false"')
    assert "patch" not in response


def test_the_fixture_spelled_wrong_is_denied(webhook):
    review = load_fixture("enabled-not-true")
    response = webhook.review(review)["response"]
    assert response["allowed"] is False
    assert '"yes": allowed is "true" or "false"' in response["status"]["message"]


def test_false_leaves_the_job_alone_and_true_offloads_it(webhook):
    review = review_with("false")
    assert webhook.review(review)["response"] == {"uid": review["request"]["uid"], "allowed": True}
    assert "patch" in webhook.review(review_with("true"))["response"]
