#!/usr/bin/env python3
"""Read a social security card through libsscard.so with ctypes.

The national interface's iReadCardBas, as a desk program written in Python would
call it: a 1024-byte buffer, the return code, the GBK line split into its 11 fields.

    LD_LIBRARY_PATH=target/release python3 examples/python/read_card.py [iType]

The library is found as $SSCARD_LIB, else by the loader as libsscard.so. Reader,
PSAM and keys come from the desk configuration ($SSCARD_CONFIG). Prints the fields as
JSON and exits 0, or prints the code and message on stderr and exits 1.
"""

import ctypes
import json
import os
import sys

# The basic line's fields, in order (docs/spec/cards.md section 4).
FIELDS = [
    "region",
    "social_security_number",
    "card_number",
    "card_identifier",
    "name",
    "atr_historical_bytes",
    "spec_version",
    "issue_date",
    "expiry_date",
    "terminal_number",
    "device_number",
]

OUT_LEN = 1024  # the interface's buffer size; the library never writes more


def load():
    lib = ctypes.CDLL(os.environ.get("SSCARD_LIB", "libsscard.so"))
    lib.iReadCardBas.argtypes = [ctypes.c_int, ctypes.c_char_p]
    lib.iReadCardBas.restype = ctypes.c_long
    return lib


def read_card_bas(lib, itype=3):
    """Returns (code, fields or message)."""
    buf = ctypes.create_string_buffer(OUT_LEN)
    ret = lib.iReadCardBas(itype, buf)
    text = buf.value.decode("gbk")
    if ret != 0:
        return ret, text
    parts = text.split("|")
    if len(parts) != len(FIELDS) + 1 or parts[-1] != "":
        raise ValueError("not a basic line: %r" % text)
    return ret, dict(zip(FIELDS, parts[:-1]))


def main():
    itype = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ret, result = read_card_bas(load(), itype)
    if ret != 0:
        print("iReadCardBas ret=%d: %s" % (ret, result), file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
