# app.ews reading answers in the shapes Exchange Server documents (Microsoft Learn: the FindItem,
# GetRoomLists, GetRooms, GetUserAvailability, CreateItem operation pages; "EWS throttling in
# Exchange" for the ErrorServerBusy fault), in the Unix-port MicroPython: items cut to the
# panel's compact events, each error kind, and damaged answers. The bodies are written here
# from those shapes, with another server's prefixes where a server may choose its own.
from app import ews
from app.backend import BackendError

S = 'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
M = 'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"'
T = 'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'
HEADER = ('<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber='
          '"1544" MinorBuildNumber="4" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.'
          'com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/'
          'services/2006/types" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://'
          'www.w3.org/2001/XMLSchema-instance"/></s:Header>')
ROOM = "room-4.12@contoso.example"


def envelope(body):
    return ('<?xml version="1.0" encoding="utf-8"?><s:Envelope %s>%s<s:Body %s %s>%s</s:Body>'
            '</s:Envelope>' % (S, HEADER, M, T, body)).encode()


def calendar_item(n, subject, start, end, organizer=("Amara Okafor", "amara.okafor@contoso."
                  "example", "SMTP"), extra=""):
    name, address, routing = organizer
    return ('<t:CalendarItem><t:ItemId Id="AAMkAD%d=" ChangeKey="DwAAABYA%d"/><t:Subject>%s'
            '</t:Subject><t:Sensitivity>Normal</t:Sensitivity><t:Start>%s</t:Start><t:End>%s'
            '</t:End><t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Busy'
            '</t:LegacyFreeBusyStatus><t:IsCancelled>false</t:IsCancelled><t:Organizer>'
            '<t:Mailbox><t:Name>%s</t:Name><t:EmailAddress>%s</t:EmailAddress><t:RoutingType>'
            '%s</t:RoutingType></t:Mailbox></t:Organizer>%s</t:CalendarItem>' % (
                n, n, subject, start, end, name, address, routing, extra))


FIND = envelope(
    '<m:FindItemResponse><m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Success">'
    '<m:ResponseCode>NoError</m:ResponseCode><m:RootFolder TotalItemsInView="4" '
    'IncludesLastItemInRange="true"><t:Items>'
    + calendar_item(1, "Amara Okafor", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z")
    + calendar_item(2, "Q4 &amp; budget", "2026-11-25T10:00:00Z", "2026-11-25T11:30:00Z",
                    ("Jonas Lindqvist", "/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP/CN="
                     "RECIPIENTS/CN=JONAS", "EX"),
                    "").replace("Normal", "Private")
    + calendar_item(3, "Booked at the panel", "2026-11-25T12:00:00Z", "2026-11-25T12:30:00Z",
                    ("Boardroom 4.12", ROOM.upper(), "SMTP"),
                    "<t:MyResponseType>Organizer</t:MyResponseType>")
    + calendar_item(4, "Company day", "2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z",
                    extra="").replace("<t:IsAllDayEvent>false", "<t:IsAllDayEvent>true")
    .replace(">Busy<", ">OOF<")
    + '</t:Items></m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages>'
    '</m:FindItemResponse>')


class Source:
    # A body behind readinto(buf), `step` bytes at most per call (as a socket would give).
    def __init__(self, body, step=1 << 30):
        self.body = memoryview(body)
        self.pos = 0
        self.step = step

    def readinto(self, buf):
        n = min(len(buf), self.step, len(self.body) - self.pos)
        buf[:n] = self.body[self.pos:self.pos + n]
        self.pos += n
        return n


class Pieces:
    # A body given as pieces (the test's heap need not hold it whole), one per readinto.
    def __init__(self, pieces):
        self.pieces = list(reversed(pieces))

    def readinto(self, buf):
        if not self.pieces:
            return 0
        piece = self.pieces.pop()
        if len(piece) > len(buf):
            self.pieces.append(piece[len(buf):])
            piece = piece[:len(buf)]
        buf[:len(piece)] = piece
        return len(piece)


def read(body, item, step=1 << 30):
    items = []
    answer = ews.read_answer(Source(body, step), item, items.append)
    return answer, items


def error(body, item="t:CalendarItem"):
    answer, _ = read(body, item)
    assert isinstance(answer.error, BackendError), answer.error
    return answer.error


def test_find_item_gives_compact_events_at_every_chunking():
    for step in (1, 17, 512, len(FIND)):
        answer, items = read(FIND, "t:CalendarItem", step)
        assert answer.error is None and answer.attrs["IncludesLastItemInRange"] == "true"
        events = [ews._event(i, ROOM) for i in items]
        assert [e["id"] for e in events] == ["AAMkAD1=", "AAMkAD2=", "AAMkAD3=", "AAMkAD4="]
    first, private, own, all_day = events
    assert first == {"id": "AAMkAD1=", "start": 1795593600, "end": 1795597200,
                     "subject": "Amara Okafor", "organizer": "Amara Okafor",
                     "organizer_address": "amara.okafor@contoso.example", "private": False,
                     "all_day": False, "cancelled": False, "show_as": "busy"}, first
    assert private["private"] and private["subject"] == "Q4 & budget"
    # An X.500 address is no e-mail address: nothing to compare with the room's.
    assert private["organizer_address"] == "" and private["organizer"] == "Jonas Lindqvist"
    assert own["organizer_address"] == ROOM  # the room's own booking
    assert all_day["all_day"] and all_day["show_as"] == "oof"


def test_room_lists_and_rooms():
    body = envelope(
        '<GetRoomListsResponse ResponseClass="Success" xmlns="http://schemas.microsoft.com/'
        'exchange/services/2006/messages"><ResponseCode>NoError</ResponseCode><m:RoomLists>'
        '<t:Address><t:Name>Contoso HQ, 4th floor</t:Name><t:EmailAddress>Rooms-Floor-4@'
        'contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>'
        'PublicDL</t:MailboxType></t:Address></m:RoomLists></GetRoomListsResponse>')
    answer, items = read(body, "t:Address")
    assert answer.error is None
    assert [ews._place(i, "") for i in items] == [{
        "address": "rooms-floor-4@contoso.example", "name": "Contoso HQ, 4th floor",
        "capacity": None}]
    body = envelope(
        '<m:GetRoomsResponse ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        '<m:Rooms><t:Room><t:Id><t:Name>Focus room 4.03</t:Name><t:EmailAddress>room-4.03@'
        'contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>'
        'Mailbox</t:MailboxType></t:Id></t:Room><t:Room><t:Id><t:EmailAddress>lounge-4@contoso.'
        'example</t:EmailAddress></t:Id></t:Room></m:Rooms></m:GetRoomsResponse>')
    answer, items = read(body, "t:Room")
    assert [ews._place(i, "Id/")["name"] for i in items] == ["Focus room 4.03",
                                                            "lounge-4@contoso.example"]


def test_free_busy_answers_in_order_with_their_errors():
    body = envelope(
        '<GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/'
        '2006/messages"><FreeBusyResponseArray><FreeBusyResponse><ResponseMessage '
        'ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage>'
        '<FreeBusyView><t:FreeBusyViewType>MergedOnly</t:FreeBusyViewType><t:MergedFreeBusy>'
        '0022</t:MergedFreeBusy></FreeBusyView></FreeBusyResponse><FreeBusyResponse>'
        '<ResponseMessage ResponseClass="Error"><MessageText>Mailbox not found</MessageText>'
        '<ResponseCode>ErrorMailRecipientNotFound</ResponseCode></ResponseMessage>'
        '<FreeBusyView><t:FreeBusyViewType>None</t:FreeBusyViewType></FreeBusyView>'
        '</FreeBusyResponse></FreeBusyResponseArray></GetUserAvailabilityResponse>')
    answer, items = read(body, "m:FreeBusyResponse")
    assert answer.error is None, answer.error  # one room's error is that room's, not the call's
    assert items[0]["FreeBusyView/MergedFreeBusy"] == "0022"
    assert items[1]["ResponseMessage@ResponseClass"] == "Error"
    assert items[1]["ResponseMessage/ResponseCode"] == "ErrorMailRecipientNotFound"


def test_created_item_id():
    body = envelope(
        '<m:CreateItemResponse><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass='
        '"Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:CalendarItem><t:ItemId '
        'Id="AAMkNEW=" ChangeKey="DwAAAB"/></t:CalendarItem></m:Items>'
        '</m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>')
    answer, items = read(body, "t:CalendarItem")
    assert answer.error is None and items == [{"ItemId@Id": "AAMkNEW="}], items


def response_error(code, text="x", xml=""):
    return envelope(
        '<m:FindItemResponse><m:ResponseMessages><m:FindItemResponseMessage ResponseClass='
        '"Error"><m:MessageText>%s</m:MessageText><m:ResponseCode>%s</m:ResponseCode>'
        '<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>%s</m:FindItemResponseMessage>'
        '</m:ResponseMessages></m:FindItemResponse>' % (text, code, xml))


def test_error_response_codes_have_kinds():
    for code, kind in (("ErrorAccessDenied", "forbidden"), ("ErrorFolderNotFound", "forbidden"),
                       ("ErrorNonExistentMailbox", "not_found"),
                       ("ErrorInternalServerTransientError", "unavailable"),
                       ("ErrorItemNotFound", "rejected"), ("ErrorInvalidRequest", "rejected")):
        e = error(response_error(code))
        assert (e.kind, e.code) == (kind, code), (code, e.kind, e.code)
        assert code in e.words
    e = error(response_error("ErrorServerBusy", xml='<m:MessageXml><t:Value Name="'
                             'BackOffMilliseconds">2500</t:Value></m:MessageXml>'))
    assert (e.kind, e.retry_after) == ("throttled", 3), (e.kind, e.retry_after)


def test_a_soap_fault_with_a_back_off():
    body = ('<s:Envelope %s><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/'
            'exchange/services/2006/types">a:ErrorServerBusy</faultcode><faultstring xml:lang='
            '"en-US">The server cannot service this request right now. Try again later.'
            '</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/'
            'exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e='
            '"http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot '
            'service this request right now. Try again later.</e:Message><t:MessageXml %s>'
            '<t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml></detail>'
            '</s:Fault></s:Body></s:Envelope>' % (S, T)).encode()
    e = error(body)
    assert (e.kind, e.code, e.retry_after) == ("throttled", "ErrorServerBusy", 298)
    schema = ('<s:Envelope %s><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/'
              'exchange/services/2006/types">a:ErrorSchemaValidation</faultcode><faultstring>'
              'The request failed schema validation.</faultstring></s:Fault></s:Body>'
              '</s:Envelope>' % S).encode()
    e = error(schema)
    assert (e.kind, e.code) == ("rejected", "ErrorSchemaValidation"), (e.kind, e.code)


def test_damaged_answers_are_bad_responses():
    for body in (FIND[:len(FIND) // 2], FIND.replace(b"</t:Items>", b"</t:Item>"),
                 b"<html><body>Service Unavailable</body></html>", b"",
                 envelope("<m:SomethingElse/>")):
        try:
            read(body, "t:CalendarItem")
        except BackendError as e:
            assert e.kind == "bad_response", e.kind
        else:
            raise AssertionError("no error for %r" % body[:60])
    _, items = read(FIND.replace(b"2026-11-25T10:00:00Z", b"yesterday"), "t:CalendarItem")
    try:
        [ews._event(i, ROOM) for i in items]
    except BackendError as e:
        assert e.kind == "bad_response" and "time" in e.words
    else:
        raise AssertionError("a bad time passed")


def test_answers_beyond_the_panel_s_bounds_are_bad_responses():
    fat = calendar_item(1, "x", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z", extra="".join(
        "<t:F%d>%s</t:F%d>" % (i, "y" * 100, i) for i in range(60)))
    one = calendar_item(1, "x", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z").encode()
    head, tail = envelope(
        '<m:FindItemResponse><m:ResponseMessages><m:FindItemResponseMessage ResponseClass='
        '"Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder><t:Items>@'
        '</t:Items></m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages>'
        '</m:FindItemResponse>').split(b"@")
    for pieces, words in (([head, fat.encode(), tail], "an item larger than"),
                          ([head] + [one] * (ews.MAX_ITEMS + 1) + [tail],
                           "more than %d items" % ews.MAX_ITEMS)):
        try:
            ews.read_answer(Pieces(pieces), "t:CalendarItem", lambda d: None)
        except BackendError as e:
            assert e.kind == "bad_response" and words in e.words, e.words
        else:
            raise AssertionError("no error for " + words)
    # Deeper than the panel reads: kept out of the item, not refused.
    deep = calendar_item(1, "x", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z",
                         extra="<t:A><t:B><t:C><t:D><t:E>deep</t:E></t:D></t:C></t:B></t:A>")
    _, items = read(envelope('<m:FindItemResponse><m:ResponseMessages><m:FindItemResponseMessage'
                             ' ResponseClass="Success"><t:Items>%s</t:Items>'
                             '</m:FindItemResponseMessage></m:ResponseMessages>'
                             '</m:FindItemResponse>' % deep), "t:CalendarItem")
    assert items[0]["Subject"] == "x" and not any(k.startswith("A/B/C/D") for k in items[0])


def test_an_error_outside_a_soap_envelope_is_not_a_success():
    body = b'<Answer ResponseClass="Error"><ResponseCode>ErrorAccessDenied</ResponseCode></Answer>'
    try:
        read(body, "t:CalendarItem")
    except BackendError as e:
        assert e.kind == "bad_response" and "SOAP body" in e.words, e.words
    else:
        raise AssertionError("no error")
