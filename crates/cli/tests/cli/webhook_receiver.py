"""A shop's webhook receiver for the tests: verifies every delivery with the Standard
Webhooks reference library (signature and timestamp window) against the secrets listed
in SECRETS_FILE (a JSON list, re-read on every request, so a test can switch secrets),
answers 204 when one verifies and 400 otherwise, and appends one JSON line per request
to LOG_FILE: {"id", "type", "verified", "secret", "error"}.

Usage: python3 webhook_receiver.py PORT SECRETS_FILE LOG_FILE
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook

PORT, SECRETS_FILE, LOG_FILE = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k: v for k, v in self.headers.items()}
        with open(SECRETS_FILE) as f:
            secrets = json.load(f)
        entry = {"id": headers.get("webhook-id"), "type": None, "verified": False,
                 "secret": None, "error": None}
        for i, secret in enumerate(secrets):
            try:
                payload = Webhook(secret).verify(body, headers)
                entry.update(verified=True, secret=i, type=payload.get("type"))
                break
            except Exception as e:  # the library's WebhookVerificationError
                entry["error"] = str(e)
        with open(LOG_FILE, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(204 if entry["verified"] else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
