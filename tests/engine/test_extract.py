import pytest

from mmsy_dataset.engine.extract import extract_choice

L4, O4 = ("A", "B", "C", "D"), ("red", "blue", "green", "dark red")


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        ("A", "A"),
        ("(B)", "B"),
        ("B) blue", "B"),
        ("C. green, because the ball looks green", "C"),
        ("The answer is (C).", "C"),
        ("Option D", "D"),
        ("blue", "B"),
        ("The ball is dark red.", "D"),  # "red" inside "dark red" does not count
        ("It is blue, not red.", "B"),
        ("The answer is blue. Red would be wrong.", "B"),
        ("A ball like this is blue.", "B"),  # the article "A" is not a label
    ],
)
def test_reads_messy_replies(reply, choice):
    assert extract_choice(reply, L4, O4).choice == choice


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("I cannot tell from the image.", "none"),
        ("I'm sorry, I can't help with that.", "none"),
        ("red or blue", "ambiguous"),
        ("(A) or (B), hard to say", "ambiguous"),
        ("(A) blue", "ambiguous"),  # label and option text disagree
    ],
)
def test_failures_are_reported_not_guessed(reply, reason):
    result = extract_choice(reply, L4, O4)
    assert result.choice is None and result.reason == reason


def test_yes_no():
    assert extract_choice("No, there is no dog.", ("A", "B"), ("yes", "no")).choice == "B"
    assert extract_choice("(C)", ("A", "B"), ("yes", "no")).choice is None
