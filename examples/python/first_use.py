#!/usr/bin/env python3
"""First use driven by the HIS, through libsscard.so with ctypes.

What a hospital system written in Python calls while it registers a patient whose
new social security card is not active yet: iActivateCard_FirstUse (sscard's own
function in the national style), then the basic line it returns, split into its 11
fields. The desk's activation journal, keys (PSAM or key file) and terminal number
come from the desk configuration ($SSCARD_CONFIG), as for `sscard activate
first-use`; no PIN is ever passed: with --verify-holder the holder enters it on the
desk's PIN device.

    LD_LIBRARY_PATH=target/release python3 examples/python/first_use.py [--verify-holder] [iType]

Prints the activated card's fields as JSON and exits 0; or prints the code and
message on stderr and exits 1 (-41 already active, -42 expired, -43 an unfinished
transfer on the card, -46 interrupted: finish it at the desk, ...; see
include/sscard.h).
"""

import ctypes
import json
import os
import sys

from read_card import FIELDS, OUT_LEN


def load():
    lib = ctypes.CDLL(os.environ.get("SSCARD_LIB", "libsscard.so"))
    lib.iActivateCard_FirstUse.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p]
    lib.iActivateCard_FirstUse.restype = ctypes.c_long
    return lib


def first_use(lib, itype=3, verify_holder=False):
    """Returns (code, fields of the activated card, or the message)."""
    buf = ctypes.create_string_buffer(OUT_LEN)
    ret = lib.iActivateCard_FirstUse(itype, 1 if verify_holder else 0, buf)
    text = buf.value.decode("gbk")
    if ret != 0:
        return ret, text
    parts = text.split("|")
    if len(parts) != len(FIELDS) + 1 or parts[-1] != "":
        raise ValueError("not a basic line: %r" % text)
    return ret, dict(zip(FIELDS, parts[:-1]))


def main():
    args = sys.argv[1:]
    verify = "--verify-holder" in args
    args = [a for a in args if a != "--verify-holder"]
    itype = int(args[0]) if args else 3
    ret, result = first_use(load(), itype, verify)
    if ret != 0:
        print("iActivateCard_FirstUse ret=%d: %s" % (ret, result), file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
