#!/usr/bin/env python3
"""Print a `Stripe-Signature` header value for a webhook payload.

Usage: stripe_sign.py SECRET [UNIX_TIMESTAMP] < payload

The payload is read from stdin as raw bytes (no newline translation) and must
be UTF-8, as the SDK signs the decoded string; its UTF-8 bytes are exactly the
bytes read, so the Rust side can HMAC the raw body.

The header is computed by the official `stripe` SDK (see requirements.txt),
using its public helper
    stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
("Compute the `Stripe-Signature` header for a given webhook body & secret.
Useful for signing payloads in unit tests."), which yields "t=<ts>,v1=<hex>".
It is then checked with stripe.Webhook.construct_event(payload, header, secret)
before being printed. With an explicit timestamp the check runs with
tolerance=0 (the SDK then skips its recency check), so deliberately old
timestamps can be signed for "expired signature" tests; without one the SDK's
default tolerance (300 s) applies.

Exit codes: 0 ok, 2 usage / bad input, 1 the SDK's own verification failed.
"""
import sys

import stripe


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: stripe_sign.py SECRET [UNIX_TIMESTAMP] < payload", file=sys.stderr)
        return 2
    secret = sys.argv[1]
    timestamp = None
    if len(sys.argv) == 3:
        try:
            timestamp = int(sys.argv[2])
        except ValueError:
            print(f"stripe_sign: timestamp must be an integer, got {sys.argv[2]!r}", file=sys.stderr)
            return 2

    raw = sys.stdin.buffer.read()
    try:
        payload = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"stripe_sign: payload is not valid UTF-8: {e}", file=sys.stderr)
        return 2

    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)

    tolerance = 0 if timestamp is not None else stripe.Webhook.DEFAULT_TOLERANCE
    try:
        stripe.Webhook.construct_event(raw, header, secret, tolerance=tolerance)
    except Exception as e:  # SignatureVerificationError, or the payload is not a JSON event
        print(f"stripe_sign: stripe.Webhook.construct_event rejected the signed payload: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1

    sys.stdout.write(header + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
