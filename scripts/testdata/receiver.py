"""A webhook receiver for scripts/container-test.sh: listens on 127.0.0.1
on a free port, writes that port to PORT_FILE, and saves each POST's
headers (one "Name: value" line each) and body (the raw bytes) as
OUT_DIR/N.headers and OUT_DIR/N.body, the body last, so that a .body file
that exists is complete. Answers 204. Stops by itself after MAX_SECONDS.

    python3 receiver.py PORT_FILE OUT_DIR MAX_SECONDS
"""

import http.server
import os
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    count = 0
    lock = threading.Lock()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with Handler.lock:
            Handler.count += 1
            n = Handler.count
        out = sys.argv[2]
        with open(os.path.join(out, "%d.headers" % n), "w") as f:
            for name, value in self.headers.items():
                f.write("%s: %s\n" % (name, value))
        tmp = os.path.join(out, "%d.body.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(out, "%d.body" % n))
        self.send_response(204)
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("receiver: " + (fmt % args) + "\n")


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, sys.argv[1])
    threading.Timer(float(sys.argv[3]), server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
