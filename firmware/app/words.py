# Every word the panel shows or writes, in each language it speaks (docs/view-model.md,
# "Words"). One table: a key, then its text in English and in Dutch. A language the table does
# not have, or an empty entry, falls back to English. Plain ASCII only: the panel's fonts have
# no other glyphs (hence "t/m", "stoppen" rather than a word with a diaeresis).
#
# "{}" marks where say() puts its arguments, in order (str.format, which MicroPython has).
# Weekday and month names live in app/clock.py (clock.date_line).

LANGUAGES = ("en", "nl")

WORDS = {
    # -- the status, big on the screen (room.STATUSES) --------------------------------------
    "free": ("Free", "Vrij"),
    "busy": ("Busy", "Bezet"),
    "ending_soon": ("Ending soon", "Bijna vrij"),
    "starting_soon": ("Starting soon", "Begint zo"),
    "awaiting_checkin": ("Please check in", "Graag inchecken"),
    "checked_in": ("Checked in", "Ingecheckt"),
    # -- times and days -----------------------------------------------------------------------
    "until": ("until {}", "tot {}"),
    "until_tomorrow": ("until tomorrow {}", "tot morgen {}"),
    "until_day": ("until {} {}", "tot {} {}"),
    "through_tomorrow": ("through tomorrow", "t/m morgen"),
    "through_day": ("through {}", "t/m {}"),
    "rest_of_day": ("for the rest of the day", "de rest van de dag"),
    "tomorrow_at": ("tomorrow {}", "morgen {}"),
    "yesterday_at": ("yesterday {}", "gisteren {}"),
    "day_at": ("{} {}", "{} {}"),
    "midnight": ("midnight", "middernacht"),
    "all_day": ("All day", "Hele dag"),
    "offline": ("Not updated since {}: {}", "Niet bijgewerkt sinds {}: {}"),
    "all_day_through": ("All day, through {}", "Hele dag, t/m {}"),
    "all_day_through_tomorrow": ("All day, through tomorrow", "Hele dag, t/m morgen"),
    "all_day_tomorrow": ("Tomorrow, all day", "Morgen, hele dag"),
    "minutes": ("{} min", "{} min"),
    "one_hour": ("1 hour", "1 uur"),
    "hours": ("{} hours", "{} uur"),
    "hours_minutes": ("{} h {} min", "{} u {} min"),
    # -- headings of the room screen ----------------------------------------------------------
    "now": ("Now", "Nu"),
    "next": ("Next", "Hierna"),
    "today": ("Today", "Vandaag"),
    "tomorrow": ("Tomorrow", "Morgen"),
    "nothing_today": ("No more meetings today", "Geen vergaderingen meer vandaag"),
    "nothing_tomorrow": ("Nothing booked tomorrow", "Morgen nog niets geboekt"),
    # -- what a meeting is called (privacy) ---------------------------------------------------
    "private_meeting": ("Private meeting", "Besloten vergadering"),
    "busy_meeting": ("Busy", "Bezet"),
    "tentative": ("Tentative", "Onder voorbehoud"),
    "stays_free": ("Room stays free", "Ruimte blijft vrij"),
    # -- a booking made at the panel ----------------------------------------------------------
    "booked_subject": ("Booked at the panel", "Geboekt via het paneel"),
    "booked_body": ("Booked at the room's door panel.", "Geboekt via het paneel bij de deur."),
    # -- buttons (view["labels"]) -------------------------------------------------------------
    "book": ("Book {}", "Boek {}"),
    "extend": ("Extend {}", "Verleng {}"),
    "extend_until": ("Extend until {}", "Verleng tot {}"),
    "end": ("End now", "Nu stoppen"),
    "checkin": ("Check in", "Inchecken"),
    "find": ("Find a room", "Zoek een ruimte"),
    "book_menu": ("Book now", "Nu boeken"),
    "extend_menu": ("Extend", "Verlengen"),
    "service_menu": ("Request service", "Service vragen"),
    "back": ("Back", "Terug"),
    # -- the pickers a menu button opens (book, extend, service) ------------------------------
    "book_heading": ("Book this room", "Deze ruimte boeken"),
    "book_line": ("Free {}", "Vrij {}"),
    "extend_heading": ("Extend the meeting", "De vergadering verlengen"),
    "extend_line": ("{}, {}", "{}, {}"),
    "extend_next": (". Booked again from {}", ". Weer geboekt vanaf {}"),
    "service_heading": ("Ask for service", "Service vragen"),
    "service_line": ("Your request goes to {} by e-mail", "Je verzoek gaat per e-mail naar {}"),
    "service_catering": ("Catering", "Catering"),
    "service_support": ("Room support", "Hulp in de ruimte"),
    # -- check-in -----------------------------------------------------------------------------
    "checkin_by": ("Check in by {}", "Check in voor {}"),
    "checkin_or_release": ("Check in by {} or the room is released",
                           "Check in voor {}, anders komt de ruimte vrij"),
    # -- notices: what a press did ------------------------------------------------------------
    "did_book": ("Booked until {}", "Geboekt tot {}"),
    "did_extend": ("Extended until {}", "Verlengd tot {}"),
    "did_end": ("Meeting ended", "Vergadering gestopt"),
    "did_checkin": ("Thank you, you are checked in", "Bedankt, je bent ingecheckt"),
    "did_request": ("Request sent: {}", "Verzoek verstuurd: {}"),
    "did_release": ("The meeting of {} was released: nobody checked in",
                    "De vergadering van {} is vrijgegeven: niemand checkte in"),
    # -- notices: what the rules do not allow now ---------------------------------------------
    "no_booking": ("Booking at this panel is turned off.",
                   "Boeken via dit paneel staat uit."),
    "no_book_busy": ("The room is in use {}: find another room.",
                     "De ruimte is bezet {}: zoek een andere ruimte."),
    "no_book_until": ("The room is booked from {}: book until then or find another room.",
                      "De ruimte is geboekt vanaf {}: boek tot dan of zoek een andere ruimte."),
    "no_book_at_all": ("The room is booked from {}: find another room.",
                       "De ruimte is geboekt vanaf {}: zoek een andere ruimte."),
    "no_extend_nothing": ("There is no meeting on to extend.",
                          "Er loopt geen vergadering om te verlengen."),
    "no_extend_until": ("The room is booked from {}: extend until then at most.",
                        "De ruimte is geboekt vanaf {}: verleng hooguit tot dan."),
    "no_extend_at_all": ("The room is booked from {}: the meeting cannot be extended.",
                         "De ruimte is geboekt vanaf {}: verlengen kan niet."),
    "no_end_nothing": ("There is no meeting on to end.",
                       "Er loopt geen vergadering om te stoppen."),
    "no_change_all_day": ("An all-day booking cannot be changed at the panel.",
                          "Een boeking voor de hele dag kan niet via het paneel."),
    "no_checkin_off": ("Check-in is not used at this panel.",
                       "Inchecken is bij dit paneel niet nodig."),
    "no_checkin_again": ("You are already checked in.", "Je bent al ingecheckt."),
    "no_checkin_yet": ("Check-in opens at {}.", "Inchecken kan vanaf {}."),
    "no_checkin_closed": ("Check-in closed at {}.", "Inchecken kon tot {}."),
    "no_checkin_nothing": ("There is no meeting to check in to.",
                           "Er is geen vergadering om in te checken."),
    "no_service": ("Service requests are not set up at this panel.",
                   "Serviceverzoeken zijn bij dit paneel niet ingesteld."),
    "no_find": ("No other rooms are set up at this panel.",
                "Bij dit paneel zijn geen andere ruimtes ingesteld."),
    "no_such_button": ("That is not possible right now.", "Dat kan nu niet."),
    # -- the battery ---------------------------------------------------------------------------
    "battery_low": ("Battery low ({}%): charge or replace it soon. The panel now updates "
                    "every {}.",
                    "Batterij bijna leeg ({}%): laad of vervang hem binnenkort. Het paneel "
                    "werkt nu elke {} bij."),
    "battery_empty": ("The battery is empty", "De batterij is leeg"),
    "battery_action": ("Charge or replace the battery. The panel shows the room again by "
                       "itself when it has power.",
                       "Laad of vervang de batterij. Het paneel toont de ruimte weer vanzelf "
                       "zodra het stroom heeft."),
    # -- the rooms screen ---------------------------------------------------------------------
    "other_rooms": ("Other rooms", "Andere ruimtes"),
    "free_for": ("Free for {}", "Vrij voor {}"),
    "free_hour": ("Free for the next hour", "Het komende uur vrij"),
    "unknown": ("Unknown", "Onbekend"),
    # -- the service mail ---------------------------------------------------------------------
    "mail_body": ("Requested at the door panel of {} <{}> at {}.\r\nMeeting in the room: {}\r\n",
                  "Aangevraagd via het paneel bij de deur van {} <{}> om {}.\r\n"
                  "Vergadering in de ruimte: {}\r\n"),
    "mail_none": ("none", "geen"),
    # -- the console and the organizer's decline ----------------------------------------------
    "release_comment": ("Released by the door panel: nobody checked in within {} minutes of "
                        "the start.",
                        "Vrijgegeven door het paneel bij de deur: niemand checkte in binnen "
                        "{} minuten na het begin."),
}


def word(key, language="en"):
    """The text of key in language (en, nl), English when the language has none."""
    row = WORDS[key]
    if language != "en":
        for i in range(1, len(LANGUAGES)):
            if LANGUAGES[i] == language:
                return row[i] or row[0]
    return row[0]


def say(key, language="en", *args):
    """word() with its {} filled in by args."""
    text = word(key, language)
    return text.format(*args) if args else text


def duration(minutes, language="en"):
    """15 -> "15 min", 60 -> "1 hour", 90 -> "1 h 30 min", 120 -> "2 hours" ("2 uur")."""
    h, m = divmod(minutes, 60)
    if h == 0:
        return say("minutes", language, m)
    if m:
        return say("hours_minutes", language, h, m)
    return word("one_hour", language) if h == 1 else say("hours", language, h)
