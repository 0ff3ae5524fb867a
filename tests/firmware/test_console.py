# The emulated board's REPL (board/unix/console.py) and a Ctrl-C: read as the byte while it
# waits for input, and, landing while it is busy with what it read, the same REPL going on
# without its banner, as the chip's does. Keys come from a script instead of the console.
import console


class Keys:
    """What the console reads: chunks of bytes, and KeyboardInterrupt where a SIGINT lands
    outside the console's read (while it works on what it read)."""

    def __init__(self, *chunks):
        self._chunks = list(chunks)
        self._pending = b""

    def read(self):
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        chunk = self._chunks.pop(0)
        if chunk is KeyboardInterrupt:
            raise KeyboardInterrupt
        return chunk

    def unread(self, data):
        self._pending = data + self._pending


def served(mode, *chunks):
    """(the mode serve() returned at the soft reset, what the console wrote)."""
    written = []
    real_out = console.out
    console.out = written.append
    try:
        repl = console.Console({})
        repl.stdin = Keys(*chunks)
        mode = repl.serve(mode)
    finally:
        console.out = real_out
    return mode, b"".join(written)


def test_a_ctrl_c_at_the_friendly_prompt_cancels_the_line():
    mode, text = served("friendly", b"abc", b"\x03", b"\x04")
    assert mode == "friendly"
    assert text == console.BANNER + b'Type "help()" for more information.\r\n>>> abc\r\n>>> \r\n', \
        text


def test_an_interrupt_while_the_friendly_repl_works_goes_on_without_the_banner():
    mode, text = served("friendly", b"abc", KeyboardInterrupt, b"\x04")
    assert mode == "friendly"
    assert text.count(console.BANNER) == 1, text
    assert text.endswith(b">>> abc\r\n>>> \r\n"), text


def test_a_ctrl_c_in_the_raw_repl_clears_the_line_silently():
    header = b"raw REPL; CTRL-B to exit\r\n>"
    for chunks in ((b"abc\x03", b"\x04"), (b"abc", KeyboardInterrupt, b"\x04")):
        # Ctrl-D on the cleared line is a soft reset: "OK" and a new line, nothing more.
        mode, text = served("raw", *chunks)
        assert (mode, text) == ("raw", header + b"OK\r\n"), (chunks, text)


def test_a_ctrl_c_cancels_paste_mode_and_raw_paste():
    _, text = served("friendly", b"\x05", b"x = 1\r", b"\x03", b"\x04")
    assert text.endswith(b"=== x = 1\r\n=== \r\n>>> \r\n"), text
    # Raw-paste: the end of the data acknowledged, then the code's error, framed.
    _, text = served("raw", b"\x05A\x01", b"x = 1", b"\x03", b"\x04")
    assert text.startswith(b"raw REPL; CTRL-B to exit\r\n>R\x01"), text
    assert text.endswith(b"\x04\x04Traceback (most recent call last):\r\nKeyboardInterrupt: "
                         b"\r\n\x04>OK\r\n"), text
