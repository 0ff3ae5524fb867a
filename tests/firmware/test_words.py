# The panel's words (app/words.py), in the Unix-port MicroPython: every key in every language,
# the same blanks in each, plain ASCII (the panel's fonts have no other glyphs), English when a
# language or a word is missing.
from app import words


def test_every_word_has_english_and_dutch_with_the_same_blanks():
    assert words.LANGUAGES == ("en", "nl")
    for key, row in words.WORDS.items():
        assert len(row) == len(words.LANGUAGES), key
        assert row[0] and row[1], key
        assert row[0].count("{}") == row[1].count("{}"), key


def test_words_are_plain_ascii():
    for key, row in words.WORDS.items():
        for text in row:
            for c in text:
                assert " " <= c <= "~" or c in "\r\n", "%s: %r" % (key, text)


def test_lookups_fall_back_to_english():
    assert words.word("free", "nl") == "Vrij"
    assert words.word("free", "fr") == "Free"
    assert words.word("free") == "Free"
    assert words.say("until", "nl", "10:30") == "tot 10:30"
    assert words.say("until", "de", "10:30") == "until 10:30"
    saved = words.WORDS["free"]
    try:
        words.WORDS["free"] = ("Free", "")
        assert words.word("free", "nl") == "Free"
    finally:
        words.WORDS["free"] = saved


def test_durations():
    assert [words.duration(m) for m in (15, 45, 60, 90, 120)] == [
        "15 min", "45 min", "1 hour", "1 h 30 min", "2 hours"]
    assert [words.duration(m, "nl") for m in (15, 60, 90, 120)] == [
        "15 min", "1 uur", "1 u 30 min", "2 uur"]


def test_the_booking_subject():
    assert words.word("booked_subject") == "Booked at the panel"
    assert words.word("booked_subject", "nl") == "Geboekt via het paneel"
