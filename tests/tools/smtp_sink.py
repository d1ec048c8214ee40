#!/usr/bin/env python3
"""A real SMTP server on 127.0.0.1 (aiosmtpd) that stores what it receives.

Usage: smtp_sink.py --port PORT --dir DIR [--tls starttls|implicit --cert PEM --key PEM]
                    [--reject TEXT [--reject-code CODE]]

With --tls starttls the server offers STARTTLS and refuses mail before it;
with --tls implicit it speaks TLS from the first byte (as on port 465).

Each message received is stored as DIR/<n>.eml (n = 1, 2, ...): the DATA bytes
exactly as received (after SMTP dot-unstuffing, line endings untouched), and
DIR/<n>.rcpt: the envelope recipients (RCPT TO), one per line, nothing else.
Both files are written to a temporary name and renamed, the .rcpt first, so
once DIR/<n>.eml exists both are complete.

With --reject TEXT, a recipient (RCPT TO) containing TEXT is refused for good:
"550 5.1.1 mailbox unavailable", as a server answers for an address that does not exist
(--reject-code picks another code, such as 554 for a relay refusing the sender's policy).

Prints "ready" (flushed) on stdout once the server accepts connections, and
stops cleanly (exit 0) on SIGTERM or SIGINT.
"""
import argparse
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


def write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class SinkHandler:
    def __init__(self, directory: str, reject: str | None, reject_code: int):
        self.directory = directory
        self.reject = reject
        self.reject_code = reject_code
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            return "%d 5.1.1 <%s>: refused" % (self.reject_code, address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        rcpts = "".join(r + "\n" for r in envelope.rcpt_tos).encode("utf-8")
        base = os.path.join(self.directory, str(n))
        write_atomic(base + ".rcpt", rcpts)
        write_atomic(base + ".eml", data)
        return "250 Message accepted for delivery"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls", choices=["starttls", "implicit"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--reject")
    ap.add_argument("--reject-code", type=int, default=550)
    args = ap.parse_args()

    tls = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            tls = {"tls_context": context, "require_starttls": True}
        else:
            tls = {"ssl_context": context}

    os.makedirs(args.dir, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    controller = Controller(
        SinkHandler(args.dir, args.reject, args.reject_code),
        hostname="127.0.0.1",
        port=args.port,
        enable_SMTPUTF8=True,
        **tls,
    )
    controller.start()  # returns once the server answers a test connection
    try:
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
