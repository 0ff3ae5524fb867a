"""`lintel secure`: plan and burn ESP32-S3 flash encryption and secure boot v2 (docs/secure.md).

The plan is the difference between the eFuses a secured Lintel panel must have and what the
chip reports, so a second run burns only what is missing and a secured panel burns nothing.
Keys are made on the host (one flash-encryption key and one signing key per panel) because the
panel's images must be encrypted and signed on the host: a secured panel can neither encrypt
nor read back what esptool writes. eFuses are burned through espefuse's Python API in the order
of Espressif's "Security Features Enablement Workflows" (flash encryption first, then secure
boot, secure download mode last), one step at a time, reading each step back before the next.
"""

import contextlib
import io
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from lintel.errors import LintelError

CHIP = "esp32s3"
FE_KEY_FILE = "flash-encryption-key.bin"  # 64 random bytes: AES-256-XTS (two eFuse blocks)
SB_KEY_FILE = "secure-boot-signing-key.pem"  # RSA-3072 private key, PEM, as espsecure makes it
FE_BLOCKS = (("BLOCK_KEY0", "XTS_AES_256_KEY_1"), ("BLOCK_KEY1", "XTS_AES_256_KEY_2"))
SB_BLOCK = ("BLOCK_KEY2", "SECURE_BOOT_DIGEST0")
BOOTLOADER_OFFSET = 0x0  # ESP32-S3: the ROM loads the second-stage bootloader from 0x0


@dataclass
class Item:
    """One line of the plan: an eFuse (or key block, or write-protect bit) and its new value."""

    step: str  # key of STEPS: items of one step are burned together
    efuse: str  # BLOCK_KEY0, SPI_BOOT_CRYPT_CNT, WR_DIS[2], ...
    value: str  # what it becomes, as espefuse names it
    why: str
    done: bool  # already so on this chip


# The order things are burned in (docs/secure.md, "Order"). Each step is one espefuse burn.
STEPS = (
    ("fe-key", "flash-encryption key"),
    ("fe-on", "flash encryption"),
    ("lockdown", "download-mode and JTAG restrictions"),
    ("fe-wp", "write protection of those restrictions"),
    ("sb-key", "secure-boot key digest"),
    ("sb-on", "secure boot"),
    ("sb-lock", "secure-boot hardening"),
    ("sb-wp", "write protection of RD_DIS"),
    ("download", "secure download mode"),
)


# ---------------------------------------------------------------------------------------------
# arguments


def add_arguments(parser) -> None:
    parser.add_argument("--port", metavar="DEV",
                        help="the panel's serial port (not needed with --virt)")
    parser.add_argument("--board", metavar="NAME",
                        help="board name or board.json: its flash layout is used for the "
                             "image-preparation commands printed after burning")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan and change nothing: no eFuse, no key file")
    parser.add_argument("--virt", action="store_true",
                        help="use espefuse's virtual ESP32-S3 eFuses instead of a panel")
    parser.add_argument("--efuse-file", metavar="FILE",
                        help="with --virt: keep the virtual eFuses in FILE between runs "
                             "(espefuse --path-efuse-file)")
    parser.add_argument("--keys", metavar="DIR",
                        help="where the panel's keys are written; must exist "
                             "(default: $LINTEL_HOME/keys/<panel id>, created 0700)")
    parser.add_argument("--development", action="store_true",
                        help="flash encryption in development mode: reflashable with "
                             "esptool --encrypt, normal download mode; NOT for panels that "
                             "leave the building")
    parser.add_argument("--yes", action="store_true",
                        help="burn without asking for the panel's MAC address")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show espefuse's own output")


def run(args) -> int:
    if args.efuse_file and not args.virt:
        raise LintelError("--efuse-file only goes with --virt")
    if not args.port and not args.virt:
        raise LintelError("--port DEV is required (or --virt to use virtual eFuses)")
    board = _load_board(args.board) if args.board else None
    release = not args.development
    if args.keys:  # before touching the panel: a typo should cost nothing
        _check_dir(Path(args.keys).expanduser(), explicit=True)

    try:
        with _espefuse_output(args.verbose) as out:
            commands = _connect(args, out)
    except _InSecureDownloadMode:
        # The last step of the plan is on, so lintel (or someone) has secured this panel.
        print(f"The panel on {args.port} is in secure download mode (ENABLE_SECURITY_DOWNLOAD "
              "is burned): it has already been secured, and its eFuses can no longer be read "
              "or burned. Nothing to burn.")
        return 0
    with contextlib.closing(_Closer(commands)):
        efuses = commands.efuses
        mac = _mac(efuses)
        device = mac.replace(":", "")
        keys = Path(args.keys).expanduser() if args.keys else _home() / "keys" / device
        where = (f"virtual eFuses{' in ' + args.efuse_file if args.efuse_file else ''}"
                 if args.virt else args.port)
        print(f"Panel {mac} (ESP32-S3, {where})", flush=True)
        items = make_plan(efuses, release)
        pending = [i for i in items if not i.done]
        if not pending:
            print("This panel is already secured: every eFuse of the plan is burned; "
                  "nothing to burn.")
            _print_done(items)
            _check_keys_match(efuses, keys)
            return 0

        needs_fe = any(i.step == "fe-key" for i in pending)
        needs_sb = any(i.step == "sb-key" for i in pending)
        fresh = needs_fe and needs_sb
        key_plan = _key_plan(keys, explicit=bool(args.keys), needs_fe=needs_fe,
                             needs_sb=needs_sb, fresh=fresh)
        _check_keys_match(efuses, keys)
        _print_plan(items, pending, release, keys, key_plan)
        if args.dry_run:
            print("Dry run: nothing was burned and no key was written.")
            return 0

        _confirm(mac, args.yes)
        _make_keys(keys, key_plan, default_dir=not args.keys)
        _apply(commands, pending, keys, release, args.verbose)
        _verify(commands, release)
        print(f"Done: every eFuse of the plan reads back as planned on panel {mac}.")
        _print_backup(keys)
        _print_next_steps(keys, board, release)
    return 0


# ---------------------------------------------------------------------------------------------
# reading the chip


class _InSecureDownloadMode(Exception):
    """espefuse cannot read a panel whose ROM is in secure download mode."""


class _Closer:
    def __init__(self, commands):
        self.commands = commands

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.commands.__exit__(None, None, None)


@contextlib.contextmanager
def _espefuse_output(verbose: bool):
    """espefuse talks a lot on stdout; keep it unless --verbose (it never prints key bytes)."""
    if verbose:
        yield None
        return
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield buf


def _last_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def fast_yaml():
    """espefuse parses its eFuse tables (YAML) with PyYAML's pure-Python safe loader, twice per
    start: half a second. The libyaml-backed CSafeLoader gives the same data ten times faster;
    use it while espefuse starts, where PyYAML has it."""
    try:
        import yaml
    except ImportError:
        yield
        return
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        yield
        return
    original = yaml.safe_load
    yaml.safe_load = lambda stream: yaml.load(stream, Loader=loader)  # a safe loader
    try:
        yield
    finally:
        yaml.safe_load = original


def _connect(args, out):
    try:
        import espefuse
        import esptool
    except ImportError:
        raise LintelError("espefuse is missing: pip install 'esptool>=5'") from None
    try:
        with fast_yaml():
            if args.virt:
                return espefuse.init_commands(chip=CHIP, virt=True,
                                              virt_efuse_file=args.efuse_file,
                                              do_not_confirm=True)
            return espefuse.init_commands(port=args.port, chip=CHIP, do_not_confirm=True)
    except esptool.FatalError as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else _last_line(
            out.getvalue() if out else "")
        if "Secure Download Mode is enabled" in text:
            raise _InSecureDownloadMode() from None
        raise LintelError(f"cannot read the eFuses of the panel on {args.port}: {text}") from None
    except Exception as e:  # serial errors: a missing or busy port; a bad virtual eFuse file
        what = args.efuse_file or "the virtual eFuses" if args.virt else args.port
        raise LintelError(f"cannot open {what}: {e}") from None


def _mac(efuses) -> str:
    return str(efuses["MAC"].get()).split()[0].lower()


def _home() -> Path:
    return Path(os.environ.get("LINTEL_HOME") or Path.home() / ".local" / "share" / "lintel")


def _load_board(name: str):
    from lintel import boards

    return boards.load(name)


# ---------------------------------------------------------------------------------------------
# the plan


def _key_free(efuses, block: str, purpose_field: str) -> bool:
    key = efuses[block]
    purpose = efuses[purpose_field]
    return (purpose.get() == "USER" and purpose.is_writeable() and key.is_readable()
            and key.is_writeable() and not any(bytes(key.get_raw())))


def _key_item(efuses, step: str, block: str, purpose: str, why: str) -> Item:
    purpose_field = "KEY_PURPOSE_" + block[-1]
    now = efuses[purpose_field].get()
    if now == purpose:
        return Item(step, block, purpose, why, True)
    if _key_free(efuses, block, purpose_field):
        return Item(step, block, purpose, why, False)
    if now == "USER":
        raise LintelError(
            f"{block} is not empty but has no key purpose (an interrupted burn, or user data): "
            f"lintel needs it free for {purpose} and will not burn over it (docs/secure.md, "
            "'When it goes wrong')")
    raise LintelError(f"{block} already holds a key with purpose {now}: this panel was secured "
                      f"some other way; lintel will not touch it (it would put {purpose} there)")


def _flag(efuses, step: str, name: str, why: str) -> Item:
    return Item(step, name, "1", why, bool(efuses[name].get_raw()))


def make_plan(efuses, release: bool = True) -> list[Item]:
    """Every eFuse a secured panel has, in burn order, each marked done or not on this chip.

    Raises LintelError when the chip is in a state the plan cannot be burned over.
    """
    items: list[Item] = []
    add = items.append

    # Conflicts that would make the plan impossible or wrong.
    for n in range(6):
        p = efuses[f"KEY_PURPOSE_{n}"].get()
        if p in ("SECURE_BOOT_DIGEST1", "SECURE_BOOT_DIGEST2"):
            raise LintelError(f"BLOCK_KEY{n} holds {p}: this panel trusts a second secure-boot "
                              "key that lintel did not burn; lintel will not revoke it")
    if efuses["SECURE_BOOT_KEY_REVOKE0"].get_raw():
        raise LintelError("SECURE_BOOT_KEY_REVOKE0 is burned: digest slot 0 is revoked, so this "
                          "panel can never use lintel's secure-boot key")
    fe_done = all(efuses["KEY_PURPOSE_" + b[-1]].get() == p for b, p in FE_BLOCKS)
    if not fe_done and not efuses["RD_DIS"].is_writeable():
        raise LintelError("RD_DIS is write-protected: a flash-encryption key burned now could "
                          "not be read-protected, so lintel will not burn one")

    # 1. Flash encryption (workflow "Enable Flash Encryption Externally", steps 3-5).
    add(_key_item(efuses, "fe-key", *FE_BLOCKS[0],
                  f"flash-encryption key, first 256 bits of {FE_KEY_FILE}; "
                  "KEY_PURPOSE_0 set, key read- and write-protected"))
    add(_key_item(efuses, "fe-key", *FE_BLOCKS[1],
                  f"flash-encryption key, last 256 bits of {FE_KEY_FILE}; "
                  "KEY_PURPOSE_1 set, key read- and write-protected"))
    cnt = int(efuses["SPI_BOOT_CRYPT_CNT"].get_raw())
    if release:
        add(Item("fe-on", "SPI_BOOT_CRYPT_CNT", "7",
                 "flash encryption on, release mode: all 3 bits set, it can never be turned off",
                 cnt == 7))
    else:
        if cnt and bin(cnt).count("1") % 2 == 0:
            raise LintelError(f"SPI_BOOT_CRYPT_CNT is {cnt:#x}: flash encryption was turned off "
                              "on this panel; only release mode (without --development) can "
                              "turn it on again")
        add(Item("fe-on", "SPI_BOOT_CRYPT_CNT", "1",
                 "flash encryption on, development mode: 1 of 3 bits, can be toggled off and on "
                 "once more", bool(cnt)))
    add(_flag(efuses, "lockdown", "DIS_DOWNLOAD_ICACHE",
              "no instruction cache in download mode (no reading flash through the cache)"))
    add(_flag(efuses, "lockdown", "DIS_DOWNLOAD_DCACHE",
              "no data cache in download mode"))
    add(_flag(efuses, "lockdown", "DIS_PAD_JTAG", "JTAG on the GPIO pads off for good"))
    usb_jtag = _flag(efuses, "lockdown", "DIS_USB_JTAG",
                     "JTAG over USB off for good (the USB serial port stays)")
    if efuses["DIS_USB_SERIAL_JTAG"].get_raw():
        usb_jtag.done = True  # the whole USB-Serial-JTAG is off; burning both is refused by ROM
    add(usb_jtag)
    add(_flag(efuses, "lockdown", "DIS_DIRECT_BOOT",
              "no direct (legacy SPI) boot that would skip the bootloader checks"))
    if release:
        add(_flag(efuses, "lockdown", "DIS_DOWNLOAD_MANUAL_ENCRYPT",
                  "download mode cannot encrypt: images are encrypted on the host"))
        add(Item("fe-wp", "WR_DIS[2]", "1",
                 "write-protects DIS_ICACHE and the download-mode and JTAG eFuses above",
                 not efuses["DIS_ICACHE"].is_writeable()))

    # 2. Secure boot v2 (workflow "Enable Secure Boot v2 Externally", steps 3-5).
    add(_key_item(efuses, "sb-key", *SB_BLOCK,
                  f"SHA-256 digest of the RSA-3072 public key of {SB_KEY_FILE}; KEY_PURPOSE_2 "
                  "set, write-protected, stays readable"))
    add(_flag(efuses, "sb-on", "SECURE_BOOT_EN",
              "the ROM boots only a bootloader signed with that key"))
    add(Item("sb-lock", "SOFT_DIS_JTAG", "7",
             "JTAG soft-disabled with all 3 bits (no bit left to re-enable it)",
             int(efuses["SOFT_DIS_JTAG"].get_raw()) == 7))
    if release:
        add(_flag(efuses, "sb-lock", "SECURE_BOOT_AGGRESSIVE_REVOKE",
                  "a signature that fails verification revokes its key at once"))
    add(_flag(efuses, "sb-lock", "SECURE_BOOT_KEY_REVOKE1",
              "digest slot 1 revoked: no second signing key can ever be added"))
    add(_flag(efuses, "sb-lock", "SECURE_BOOT_KEY_REVOKE2",
              "digest slot 2 revoked: no third signing key can ever be added"))
    add(Item("sb-wp", "WR_DIS[0]", "1",
             "write-protects RD_DIS: no key block can be read-protected any more, so the "
             "secure-boot digest stays readable", not efuses["RD_DIS"].is_writeable()))

    # 3. Last: the ROM's download mode becomes secure download mode.
    if release:
        add(_flag(efuses, "download", "ENABLE_SECURITY_DOWNLOAD",
                  "secure download mode: esptool can still write and erase flash (reads give "
                  "ciphertext); no RAM or register access, so no stub and no espefuse"))
    return items


# ---------------------------------------------------------------------------------------------
# keys


@dataclass
class KeyPlan:
    create_dir: bool
    fe: str  # "new", "reuse" or "none"
    sb: str


def _check_dir(keys: Path, explicit: bool) -> bool:
    """Whether the key folder must be created; LintelError if it cannot be used."""
    if keys.exists() and not keys.is_dir():
        raise LintelError(f"key folder {keys} is not a folder")
    create_dir = not keys.exists()
    if create_dir and explicit:
        raise LintelError(f"key folder {keys} does not exist (create it, on storage that is "
                          "backed up, or leave out --keys)")
    if not create_dir and not os.access(keys, os.W_OK | os.X_OK):
        raise LintelError(f"key folder {keys} is not writable")
    return create_dir


def _key_plan(keys: Path, *, explicit: bool, needs_fe: bool, needs_sb: bool,
              fresh: bool) -> KeyPlan:
    create_dir = _check_dir(keys, explicit)

    def one(name: str, needed: bool) -> str:
        if not needed:
            return "none"
        if not (keys / name).exists():
            return "new"
        if fresh:
            raise LintelError(
                f"{keys / name} already exists: lintel makes new keys for every panel and never "
                "overwrites or reuses one on a new panel; move the folder away (keep it if it "
                "belongs to another panel) or pass another --keys")
        return "reuse"  # resuming an interrupted run: the other half of this panel's keys

    return KeyPlan(create_dir, one(FE_KEY_FILE, needs_fe), one(SB_KEY_FILE, needs_sb))


def _write_new(path: Path, data: bytes) -> None:
    """Create PATH 0600 with DATA; never overwrite (O_EXCL), never world-readable, not even
    for a moment."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LintelError(f"{path} already exists; lintel never overwrites a key") from None
    except OSError as e:
        raise LintelError(f"cannot write {path}: {e.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, data)
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise LintelError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)


def _make_keys(keys: Path, plan: KeyPlan, default_dir: bool) -> None:
    if plan.create_dir:
        try:
            if default_dir:
                keys.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.chmod(keys.parent, 0o700)
            keys.mkdir(mode=0o700)
            os.chmod(keys, 0o700)
        except OSError as e:
            raise LintelError(f"cannot create the key folder {keys}: {e.strerror}") from None
    if plan.fe == "new":
        _write_new(keys / FE_KEY_FILE, os.urandom(64))
        print(f"Wrote a new 512-bit flash-encryption key: {keys / FE_KEY_FILE} (0600)")
    if plan.sb == "new":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
        _write_new(keys / SB_KEY_FILE, pem)
        print(f"Wrote a new RSA-3072 secure-boot signing key: {keys / SB_KEY_FILE} (0600)")
    for name, how in ((FE_KEY_FILE, plan.fe), (SB_KEY_FILE, plan.sb)):
        if how == "reuse":
            _check_key_file(keys / name)
            print(f"Using this panel's existing {keys / name} (resuming an interrupted run)")


def _check_key_file(path: Path) -> None:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LintelError(f"cannot read {path}: {e.strerror}") from None
    if path.name == FE_KEY_FILE and len(data) != 64:
        raise LintelError(f"{path} is {len(data)} bytes; a flash-encryption key here is 64")
    if path.name == SB_KEY_FILE:
        _sbv2_digest(path)  # raises if it is not an RSA-3072 key
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise LintelError(f"{path} can be read by others (mode "
                          f"{stat.S_IMODE(path.stat().st_mode):o}): chmod 600 it first")


def _sbv2_digest(path: Path) -> bytes:
    """The digest the ROM compares with SECURE_BOOT_DIGEST0 (espsecure digest-sbv2-public-key)."""
    import espsecure
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise LintelError(f"{path} is not a readable unencrypted PEM private key ({e})") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 3072:
        raise LintelError(f"{path} is not an RSA-3072 key (secure boot v2 on the ESP32-S3 uses "
                          "RSA-3072)")
    with open(path, "rb") as f, _espefuse_output(False):
        return espsecure._digest_sbv2_public_key(f)


def _check_keys_match(efuses, keys: Path) -> None:
    """If this panel already trusts a digest and the key folder has a signing key, they must
    be the same key: signing this panel's images with another would brick it."""
    pem = keys / SB_KEY_FILE
    if efuses["KEY_PURPOSE_2"].get() != SB_BLOCK[1] or not pem.exists():
        return
    burned = bytes(efuses[SB_BLOCK[0]].get_raw())
    digest = _sbv2_digest(pem)
    if digest not in (burned, burned[::-1]):
        raise LintelError(f"the secure-boot digest burned in this panel does not match {pem}: "
                          "that key folder belongs to another panel")


# ---------------------------------------------------------------------------------------------
# output


def _print_plan(items: list[Item], pending: list[Item], release: bool, keys: Path,
                key_plan: KeyPlan) -> None:
    mode = "release" if release else "DEVELOPMENT"
    print(f"Keys: {keys}{' (to be created, 0700)' if key_plan.create_dir else ''}")
    for name, how in ((FE_KEY_FILE, key_plan.fe), (SB_KEY_FILE, key_plan.sb)):
        if how != "none":
            what = "new, 0600" if how == "new" else "existing, this panel's"
            print(f"  {name} ({what})")
    print(f"Plan: flash encryption ({mode} mode, AES-256-XTS) and secure boot v2 (RSA-3072); "
          f"{len(pending)} eFuse writes, burned in this order:")
    for n, item in enumerate(pending, 1):
        print(f"  {n:2}. {item.efuse:<30} := {item.value:<20} {item.why}")
    _print_done(items)
    print("Irreversible, once burned:")
    print("  - keys and key purposes can never be changed; the flash-encryption key can never "
          "be read back from the chip")
    if release:
        print("  - flash encryption can never be turned off: the panel runs only images "
              f"encrypted on the host with {FE_KEY_FILE}")
    else:
        print("  - flash encryption stays on unless turned off (once) from download mode; the "
              "panel runs only encrypted images")
    print("  - secure boot can never be turned off: the panel runs only a bootloader signed "
          f"with {SB_KEY_FILE}, and no other signing key can ever be added")
    print("  - JTAG is gone for good")
    if release:
        print("  - download mode becomes secure download mode: esptool can write flash "
              "(encrypted, signed images) but not run code; espefuse can no longer reach the "
              "panel")
    print("  - until signed, encrypted images are written (docs/secure.md), the panel will not "
          "boot")
    print(f"Key backup: copy {keys} to two offline places right after burning.")
    print(f"  Lose {SB_KEY_FILE}: this panel can never be updated again.")
    print(f"  Lose {FE_KEY_FILE}: no new image can be encrypted for it, and nothing read "
          "from its flash can be decrypted on a host.")


def _print_done(items: list[Item]) -> None:
    done = [i for i in items if i.done]
    if done:
        print("Already burned (left as they are):")
        for item in done:
            print(f"      {item.efuse:<30} == {item.value}")


def _print_backup(keys: Path) -> None:
    print(f"Back up {keys} now, to two offline places (an encrypted USB stick in a safe, a "
          "password manager vault):")
    print(f"  without {SB_KEY_FILE} this panel never accepts another update;")
    print(f"  without {FE_KEY_FILE} no new image can be encrypted for it.")


def _print_next_steps(keys: Path, board, release: bool) -> None:
    from lintel.partitions import TABLE_OFFSET

    app = board.app.offset if board else 0x10000
    fe, sb = keys / FE_KEY_FILE, keys / SB_KEY_FILE
    print("Next, before this panel is expected to boot (docs/secure.md, 'Images for a secured "
          "panel'):")
    print("  1. a MicroPython build with secure boot v2 and flash encryption enabled "
          "(the stock bootloader is not)")
    print(f"  2. espsecure sign-data --version 2 --keyfile {sb} --output bootloader-signed.bin "
          "bootloader.bin   (and the same for micropython.bin)")
    for name, offset in (("bootloader-signed", BOOTLOADER_OFFSET),
                         ("partition-table", TABLE_OFFSET), ("micropython-signed", app)):
        print(f"     espsecure encrypt-flash-data --aes-xts --keyfile {fe} --address "
              f"{offset:#x} --output {name}-enc.bin {name}.bin")
    force = " --force" if release else ""
    note = ("; secure download mode: no stub, no verify, --force because esptool cannot tell "
            "ciphertext from plaintext" if release else "")
    print(f"  3. esptool --chip esp32s3 --port PORT write-flash{force} 0x0 "
          f"bootloader-signed-enc.bin {TABLE_OFFSET:#x} partition-table-enc.bin {app:#x} "
          f"micropython-signed-enc.bin{note}")
    where = f" ({board.romfs.offset:#x}, {board.vfs.offset:#x})" if board else ""
    print(f"  4. the romfs and vfs partitions{where} have no 'encrypted' flag: romfs.bin and "
          "vfs.bin are written as they are (lintel flash --app-only)")


# ---------------------------------------------------------------------------------------------
# confirming and burning


def _confirm(mac: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise LintelError("refusing to burn eFuses without confirmation: run it in a terminal "
                          "and type the panel's MAC address, or pass --yes")
    print(f"This cannot be undone. Type the panel's MAC address ({mac}) to burn: ", end="",
          flush=True)
    try:
        answer = input()
    except EOFError:
        answer = ""
    if re.sub(r"[^0-9a-f]", "", answer.lower()) != mac.replace(":", ""):
        raise LintelError("the MAC address did not match: nothing was burned")


def _burn(commands, step: str, items: list[Item], keys: Path) -> None:
    if step == "fe-key":
        data = (keys / FE_KEY_FILE).read_bytes()
        halves = {FE_BLOCKS[0][0]: data[:32], FE_BLOCKS[1][0]: data[32:]}
        commands.burn_key([i.efuse for i in items], [io.BytesIO(halves[i.efuse]) for i in items],
                          [i.value for i in items])
    elif step == "sb-key":
        with open(keys / SB_KEY_FILE, "rb") as f:
            commands.burn_key_digest([SB_BLOCK[0]], [f], [SB_BLOCK[1]])
    elif step == "fe-wp":
        commands.write_protect_efuse(["DIS_ICACHE"])
    elif step == "sb-wp":
        commands.write_protect_efuse(["RD_DIS"])
    else:
        commands.burn_efuse({i.efuse: i.value for i in items})


def _apply(commands, pending: list[Item], keys: Path, release: bool, verbose: bool) -> None:
    import esptool

    burned: list[str] = []
    for step, title in STEPS:
        items = [i for i in pending if i.step == step]
        if not items:
            continue
        names = ", ".join(i.efuse for i in items)
        print(f"Burning {title}: {names}", flush=True)
        failure = ""
        with _espefuse_output(verbose) as out:
            try:
                _burn(commands, step, items, keys)
            except esptool.FatalError as e:
                failure = str(e).strip() or "espefuse failed"
            except SystemExit as e:  # espefuse ends the process after some last burns
                if e.code not in (0, None):
                    failure = f"espefuse exited with {e.code}"
            except Exception as e:  # a lost serial port
                failure = f"{type(e).__name__}: {e}"
        if not failure:
            try:
                missing = _not_done(commands, release, {i.efuse for i in items})
            except LintelError:
                raise
            except Exception as e:
                if step != "download":
                    raise LintelError(f"cannot read the eFuses back after burning {names}: "
                                      f"{e}") from None
                # A real panel may stop answering espefuse once secure download mode is on.
                print("  (secure download mode is on: the panel's eFuses can no longer be read)")
                return
            if missing:
                failure = "read back as not burned: " + ", ".join(missing)
        if failure:
            detail = _last_line(out.getvalue()) if out else ""
            so_far = ", ".join(burned) if burned else "nothing"
            extra = f" ({detail})" if detail and detail not in failure else ""
            raise LintelError(
                f"burning {names} failed: {_last_line(failure)}{extra}. Burned before it: "
                f"{so_far}. Run lintel secure again to see what is left (docs/secure.md, "
                "'When it goes wrong')")
        burned.extend(i.efuse for i in items)


def _reread(commands) -> None:
    efuses = commands.efuses
    efuses.read_coding_scheme()
    efuses.read_blocks()
    efuses.update_efuses()


def _not_done(commands, release: bool, names: set[str]) -> list[str]:
    _reread(commands)
    return [i.efuse for i in make_plan(commands.efuses, release)
            if i.efuse in names and not i.done]


def _verify(commands, release: bool) -> None:
    try:
        _reread(commands)
    except Exception:  # a real panel in secure download mode may refuse the last read
        print("The eFuses could not be read again after the last burn: secure download mode "
              "stops espefuse, as expected.")
        return
    left = [i.efuse for i in make_plan(commands.efuses, release) if not i.done]
    if left:
        raise LintelError("after burning, these eFuses do not read back as planned: "
                          + ", ".join(left))
