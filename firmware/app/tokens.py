# The token store: the service account's tokens, sealed with this panel's key (LSEAL kind 2,
# docs/sealed-config.md) in the cfg partition, replaced atomically. It remembers which tenant,
# client and authority issued them, so a configuration pushed for another tenant starts a new
# sign-in instead of sending the old tokens to the new authority.
import json

from app import seal

TOKENS_FILE = "/cfg/tokens.sealed"
FORMAT = 1


def _issuer(backend):
    return [backend["authority_host"], backend["tenant"], backend["client_id"]]


class TokenStore:
    def __init__(self, board, backend):
        self.board = board
        self.issuer = _issuer(backend)
        self.problem = None  # why a stored file was not usable, for the screen and the console

    def load(self):
        """The stored tokens, or None (no sign-in yet, another tenant, or an unusable file:
        `problem` says which)."""
        self.problem = None
        data = self.board.read_file(TOKENS_FILE)
        if data is None:
            return None
        key = self.board.device_key()
        if key is None:
            self.problem = "this panel has no key"
            return None
        try:
            doc = json.loads(seal.open_sealed(key[0], key[1], seal.KIND_TOKENS, data))
        except seal.SealError as e:
            self.problem = "the stored sign-in cannot be opened: %s" % e
            return None
        except ValueError:
            self.problem = "the stored sign-in is damaged"
            return None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            self.problem = "the stored sign-in has an unknown format"
            return None
        if doc.get("issuer") != self.issuer:
            self.problem = "the configuration names another tenant or app: sign in again"
            return None
        return doc.get("tokens")

    def save(self, tokens):
        key = self.board.device_key()
        plain = json.dumps({"format": FORMAT, "issuer": self.issuer, "tokens": tokens}).encode()
        self.board.write_file(TOKENS_FILE, seal.seal(key[0], key[1], seal.KIND_TOKENS, plain))

    def clear(self):
        self.board.remove_file(TOKENS_FILE)
