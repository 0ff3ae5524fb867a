# The words on the screens. A view model brings its own words, in its `language` (status,
# until, headings, buttons: docs/view-model.md); the screens add only captions around them,
# and fall back on app/words.py's table where a hand-written view leaves a word out.
# The captions below are the screens' own: English, then Dutch, "{}" filled by str.format;
# ASCII only, as in app/words.py (the fonts have no other letters).
from app import words

OWN = {
    "action:back": ("Back", "Terug"),
    "action:signin": ("Touch for a new code", "Raak aan voor een nieuwe code"),
    "action:catering": ("Catering", "Catering"),
    "action:support": ("Support", "Ondersteuning"),
    "and_more": ("and {} more", "en nog {}"),
    "signin_title": ("Sign in this panel", "Dit paneel aanmelden"),
    "signin_open": ("1. On a phone or computer, open", "1. Open op een telefoon of computer"),
    "signin_enter": ("2. Enter this code", "2. Voer deze code in"),
    "signin_scan": ("or scan this", "of scan deze code"),
    "signin_expires": ("The code works for {} minutes.", "De code werkt {} minuten."),
    "what_to_do": ("What to do", "Wat te doen"),
    "retry_in": ("The panel tries again by itself in {}.",
                 "Het paneel probeert het over {} zelf opnieuw."),
    "seconds": ("{} s", "{} s"),
    "setup_title": ("Set up this panel", "Dit paneel instellen"),
    "device": ("Device id", "Apparaat-id"),
    "version": ("Lintel {}", "Lintel {}"),
    # Problem kinds (docs/view-model.md, "problem"): the headline above the words.
    "kind:": ("This panel needs attention", "Dit paneel heeft aandacht nodig"),
    "kind:wifi_password": ("Wi-Fi password refused", "Wi-Fi-wachtwoord geweigerd"),
    "kind:wifi_not_found": ("Wi-Fi network not found", "Wi-Fi-netwerk niet gevonden"),
    "kind:wifi_refused": ("Wi-Fi refused the panel", "Wi-Fi weigert het paneel"),
    "kind:wifi_timeout": ("No Wi-Fi", "Geen Wi-Fi"),
    "kind:tls": ("Secure connection refused", "Beveiligde verbinding geweigerd"),
    "kind:proxy": ("The proxy refused the panel", "De proxy weigert het paneel"),
    "kind:network": ("Calendar server out of reach", "Agendaserver niet bereikbaar"),
    "kind:signin_service": ("Sign-in service unavailable", "Aanmelden kan nu niet"),
    "kind:forbidden": ("No rights on this room", "Geen rechten op deze ruimte"),
    "kind:not_found": ("Room mailbox not found", "Postvak van de ruimte niet gevonden"),
    "kind:credentials": ("Service account password refused",
                         "Wachtwoord van het serviceaccount geweigerd"),
    "kind:throttled": ("The calendar server asks to wait", "De agendaserver vraagt te wachten"),
    "kind:unavailable": ("Calendar server unavailable", "Agendaserver niet beschikbaar"),
    "kind:rejected": ("The calendar server said no", "De agendaserver weigert"),
    "kind:bad_response": ("Unexpected answer", "Onverwacht antwoord"),
}


def text(key, language="en", *args):
    """The caption `key` in `language` (English when it has none), "{}" filled by args: the
    screens' own captions first, then app/words.py's."""
    row = OWN.get(key)
    if row is None:
        s = words.word(key, language)
    else:
        s = row[1] if language == "nl" and row[1] else row[0]
    return s.format(*args) if args else s


def has(key):
    return key in OWN or key in words.WORDS


def duration(seconds, language="en"):
    """60 -> "1 min", 3600 -> "1 hour", 45 -> "45 s" (app/words.py's durations)."""
    if seconds >= 60 and seconds % 60 == 0:
        return words.duration(seconds // 60, language)
    return text("seconds", language, seconds)
