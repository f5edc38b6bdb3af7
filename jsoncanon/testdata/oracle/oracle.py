"""Oracle for the jsoncanon tests: json.dumps(json.loads(b)) as CPython 3
computes it for the raw bytes b of a request body.

Protocol, one request per line on stdin and one response per line on stdout,
in the same order:

    request:  <base64 of the input bytes>
    response: ok <b64 default> <b64 compact> <b64 utf8> <b64 compact-utf8>
              err <message on one line>

The four outputs are json.dumps with its defaults, with
separators=(',', ':'), with ensure_ascii=False, and with both, each encoded
with .encode('utf-8', 'surrogatepass').
"""

import base64
import json
import sys

VARIANTS = (
    {},
    {"separators": (",", ":")},
    {"ensure_ascii": False},
    {"separators": (",", ":"), "ensure_ascii": False},
)


def main():
    # The default limit, whatever the environment says.
    sys.set_int_max_str_digits(4300)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        try:
            value = json.loads(base64.b64decode(line.strip(), validate=True))
            parts = [
                base64.b64encode(
                    json.dumps(value, **kw).encode("utf-8", "surrogatepass")
                )
                for kw in VARIANTS
            ]
            resp = b"ok " + b" ".join(parts)
        except Exception as e:  # ValueError, UnicodeDecodeError, RecursionError
            msg = "%s: %s" % (type(e).__name__, e)
            msg = " ".join(msg.splitlines())
            resp = b"err " + msg.encode("ascii", "backslashreplace")
        out.write(resp + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
