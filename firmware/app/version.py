# The one place the Lintel version is written; the host tools read it from here too.
VERSION = "0.1.0"
