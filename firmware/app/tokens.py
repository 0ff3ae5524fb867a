# The token store: the service account's tokens, sealed with this panel's key (LSEAL kind 2,
# docs/sealed-config.md) in the cfg partition, replaced atomically. It remembers which tenant,
# client and authority issued them, so a configuration pushed for another tenant starts a new
# sign-in instead of sending the old tokens to the new authority.
import json

from app import clock, seal

TOKENS_FILE = "/cfg/tokens.sealed"
FORMAT = 1
REFRESH_MARGIN = 300  # refresh an access token this long before it expires


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


class Auth:
    """The access token for Graph (app/graph.py), renewed shortly before it expires, after a
    401, or with the claims of a claims challenge; every new refresh token is stored at once
    (Entra rotates them). Entra's client (app/entra.py) is loaded only to renew or sign in: on
    most wakes the stored token is still good."""

    def __init__(self, session, backend, store, tokens):
        self.session, self.backend, self.store, self.tokens = session, backend, store, tokens
        self._entra = None

    def entra(self):
        if self._entra is None:
            from app.entra import Entra

            self._entra = Entra(self.session, self.backend)
        return self._entra

    def bearer(self):
        if self.tokens["expires_at"] - REFRESH_MARGIN <= clock.now():
            self.renew()
        return "Bearer " + self.tokens["access_token"]

    def renew(self, challenge=None):
        tokens = self.entra().refresh(self.tokens["refresh_token"], challenge)
        tokens["account"] = tokens["account"] or self.tokens.get("account")
        self.store.save(tokens)
        self.tokens = tokens
        # For the technician, and for the energy benchmark: in the field the identity host is
        # a second TLS handshake.
        print("token: renewed until %s%s" % (clock.format_iso_z(tokens["expires_at"]),
                                             ", as Graph's claims challenge asked" if challenge
                                             else ""))
