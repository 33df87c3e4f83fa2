"""The pyscard peer of the APDU benchmark (benches/apdu_latency.rs).

Usage: python3 pyscard_loop.py READER_NAME SCRIPT_FILE

Connects to the reader, sends every line of SCRIPT_FILE (hex, spaces allowed) as one
APDU, and exits 1 at the first status word other than 90 00: the same workload and the
same check as the other peers. Uses Debian's python3-pyscard (run with /usr/bin/python3).
"""
import sys

from smartcard.System import readers


def main():
    name, path = sys.argv[1], sys.argv[2]
    matches = [r for r in readers() if str(r) == name]
    if not matches:
        print("no reader named %r" % name, file=sys.stderr)
        return 3
    conn = matches[0].createConnection()
    conn.connect()
    with open(path) as f:
        apdus = [list(bytes.fromhex(line)) for line in f if line.strip()]
    for apdu in apdus:
        _data, sw1, sw2 = conn.transmit(apdu)
        if (sw1, sw2) != (0x90, 0x00):
            print("status %02X%02X" % (sw1, sw2), file=sys.stderr)
            return 6
    conn.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
