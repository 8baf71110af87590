"""Quote and signature folding against other projects' reply fixtures.

The exact-match rate over every corpus, with the expected text of each mail, is measured in
test_reply_corpora.py; these tests state the behaviour case by case.
"""

from __future__ import annotations

import re

import pytest

from sportello.mail.parse import parse_message
from sportello.mail.replies import visible_reply
from tests.mail.fixtures import TESTDATA, generic_reply_problem, ids, reply_fixtures

TALON = TESTDATA / "talon" / "tests" / "fixtures"
STANDARD = sorted((TALON / "standard_replies").glob("*.eml"))
HTML = sorted((TALON / "html_replies").glob("*.html"))


def squash(text: str) -> str:
    return " ".join(text.split())


def without_signature(text: str) -> str:
    """talon keeps signatures; we fold them too, so expectations lose theirs."""
    text = re.split(r"^-- ?$", text, maxsplit=1, flags=re.MULTILINE)[0]
    return re.sub(r"^Sent from my .*$", "", text, flags=re.MULTILINE)


@pytest.mark.parametrize("path", STANDARD, ids=ids(STANDARD))
def test_talon_standard_replies_reduce_to_the_reply(path):
    expected_file = path.with_name(path.stem + "_reply_text")
    expected = without_signature(expected_file.read_text()) if expected_file.exists() else "Hello"
    assert squash(parse_message(path.read_bytes()).visible_text) == squash(expected)


@pytest.mark.parametrize("path", HTML, ids=ids(HTML))
def test_talon_html_replies_reduce_to_the_reply(path):
    assert squash(visible_reply("", path.read_text(errors="replace"))) == "Hi. I am fine. Thanks, Alex"


GITHUB_EXPECTED = {
    "correct_sig.txt": "this is an email with a correct -- signature.",
    "email_1_1.txt": "Hi folks What is the best way to clear a Riak bucket of all key, values after running a test? "
    "I am currently using the Java HTTP API.",
    "email_1_3.txt": "Oh thanks. Having the function would be great.",
    "email_1_4.txt": "Awesome! I haven't had another problem with it.",
    "email_1_7.txt": ":+1:",
    "email_2_1.txt": "Outlook with a reply",
    "email_2_2.txt": "Outlook with a reply directly above line",
    "email_2_3.txt": "Outlook with a reply directly above line",
    "email_BlackBerry.txt": "Here is another email",
    "email_iPhone.txt": "Here is another email",
    "email_multi_word_sent_from_my_mobile_device.txt": "Here is another email",
    "email_sent_from_my_not_signature.txt": "Here is another email "
    "Sent from my desk, is much easier then my mobile phone.",
    "email_sig_delimiter_in_middle_of_line.txt": "Hi there! Stuff happened. "
    "And here is a fix -- this is not a signature. kthxbai",
    "pathological.txt": "I think you're onto something. "
    "I will try to fix the problem as soon as I get back to a computer.",
    "email_one_is_not_on.txt": "Thank, this is really helpful. One outstanding question I had: "
    "Locally (on development), when I run...",
    "greedy_on.txt": "On your remote host you can run: telnet 127.0.0.1 52698 This should connect to TextMate (on your "
    "Mac, via the tunnel). If that fails, the tunnel is not working.",
}
GITHUB_CONTAINS = {
    "email_1_5.txt": "This is the fourth bullet point",
    "email_1_6.txt": "I get proper rendering as well.",
    "email_bullets.txt": "- how about bullets",
}
GITHUB_EXPECTED["email_1_2.txt"] = (  # bottom-posted: the answer below the quote is the reply
    "Hi, You can list the keys for the bucket and call delete for each."
)
GITHUB_EXPECTED["email_1_8.txt"] = "I will reply under this one and under this."  # inline answers
# Known failures, with reasons (asserted as xfail(strict) so a fix shows up):
GITHUB_KNOWN_FAILURES = {
    "email_long_quote.txt": "a line of 400 '>' after the text is not a quote line at its start",
}


@pytest.mark.parametrize("path", reply_fixtures("github-email-reply-parser"),
                         ids=ids(reply_fixtures("github-email-reply-parser")))
def test_github_fixtures(path):
    visible = visible_reply(path.read_text(errors="replace"))
    if path.name in GITHUB_KNOWN_FAILURES:
        pytest.xfail(GITHUB_KNOWN_FAILURES[path.name])
    if path.name == "email_1_2.txt":
        assert squash(visible).startswith(GITHUB_EXPECTED[path.name]) and "Abhishek" not in visible
    elif path.name in GITHUB_EXPECTED:
        assert squash(visible) == squash(GITHUB_EXPECTED[path.name])
    else:
        assert GITHUB_CONTAINS[path.name] in visible


GENERIC_KNOWN_FAILURES = {
    "mail-parser-reply/test/emails/multiline_on.txt": "a quote header wrapped over three lines at the very top",
}
GENERIC = [p for source in ("zapier-email-reply-parser", "willdurand-email-reply-parser", "mail-parser-reply")
           for p in reply_fixtures(source)]


@pytest.mark.parametrize("path", GENERIC, ids=ids(GENERIC))
def test_other_reply_fixtures_by_the_generic_rule(path):
    text = path.read_text(errors="replace")
    problem = generic_reply_problem(text, visible_reply(text))
    known = GENERIC_KNOWN_FAILURES.get(str(path.relative_to(TESTDATA)))
    if known:
        assert problem, "a known failure passes now: remove it from the list"
        return
    assert problem == ""


def test_full_text_stays_available_beside_the_visible_text():
    raw = (TALON / "standard_replies" / "gmail.eml").read_bytes()
    parsed = parse_message(raw)
    assert parsed.visible_text == "Hello" and "wrote:" in parsed.text
