# esp32 stand-in: partitions from the image's table, NVS kept in the nvs partition.
import esp32
import json
import os


def _fresh_nvs(namespace):
    esp32._store = None  # forget the RAM copy: the next NVS reads the flash again, as on boot
    return esp32.NVS(namespace)


def _raises(errno_value, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        assert e.args[0] == errno_value, e.args
        return
    raise AssertionError("no OSError %d" % errno_value)


def test_partitions_come_from_the_table():
    # The board file, through lintel build's table, read back by the chip's partition API.
    with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
        rows = json.load(f)["flash"]["partitions"]
    subtypes = {"nvs": 2, "phy": 1, "factory": 0, "fat": 0x81, "romfs": 0x8F}
    for row in rows:
        (part,) = [p for p in esp32.Partition.find(0 if row["type"] == "app" else 1)
                   if p.info()[4] == row["name"]]
        ptype, subtype, offset, size, label, encrypted = part.info()
        assert subtype == subtypes[row["subtype"]], row
        assert (offset, size) == (int(row["offset"], 16), int(row["size"], 16)), row
        assert not encrypted
    (vfs,) = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    assert vfs.ioctl(4, 0) == vfs.info()[3] // 4096 and vfs.ioctl(5, 0) == 4096


def test_partition_blocks_round_trip():
    (nvs,) = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="nvs")
    nvs.writeblocks(5, bytearray(b"\x5a" * 4096))
    back = bytearray(4096)
    nvs.readblocks(5, back)
    assert back == b"\x5a" * 4096
    nvs.ioctl(6, 5)
    nvs.readblocks(5, back)
    assert back == b"\xff" * 4096


def test_nvs_survives_a_reboot():
    nvs = _fresh_nvs("lintel")
    nvs.set_i32("boots", -7)
    nvs.set_blob("key", b"\x00\x01fake-key\xff")
    nvs.commit()
    again = _fresh_nvs("lintel")
    assert again.get_i32("boots") == -7
    buf = bytearray(32)
    n = again.get_blob("key", buf)
    assert buf[:n] == b"\x00\x01fake-key\xff"


def test_nvs_namespaces_are_separate_and_errors_are_the_ports():
    _fresh_nvs("one").set_i32("x", 1)
    two = _fresh_nvs("two")
    _raises(-0x1102, two.get_i32, "x")  # ESP_ERR_NVS_NOT_FOUND
    _raises(-0x1109, two.set_i32, "a-key-longer-than-15", 1)  # ESP_ERR_NVS_KEY_TOO_LONG
    one = _fresh_nvs("one")
    one.set_blob("b", b"0123456789")
    _raises(-0x110C, one.get_blob, "b", bytearray(4))  # ESP_ERR_NVS_INVALID_LENGTH
    one.erase_key("x")
    _raises(-0x1102, _fresh_nvs("one").get_i32, "x")


def test_nvs_keeps_the_old_store_when_a_write_is_cut():
    nvs = _fresh_nvs("cut")
    nvs.set_i32("v", 1)
    nvs.set_i32("v", 2)
    # Corrupt the newest half's payload, as a power cut mid-write would leave it.
    store = esp32._store
    esp32._flash_write(store.offset + store.slot * store.half + 20, b"garbage")
    assert _fresh_nvs("cut").get_i32("v") == 1
