"""The emulated board: the Unix-port MicroPython behind a pty console and an ESP32-S3 ROM loader."""
