"""An application run by ringfork --app, on Python's http.server: it listens on
127.0.0.1:$PORT and says who it is.
  GET /hello   "hello from python <pid> instance <RINGFORK_APP_INSTANCE>"
  GET /env     {"pid", "port", "instance"} as JSON
  GET /health  200 "ok"
Prints one line on stdout and one on stderr once it listens."""
import http.server
import json
import os
import sys

PORT = int(os.environ["PORT"])
INSTANCE = os.environ.get("RINGFORK_APP_INSTANCE")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/hello":
            self.answer(200, f"hello from python {os.getpid()} instance {INSTANCE}")
        elif self.path == "/env":
            self.answer(200, json.dumps({"pid": os.getpid(), "port": os.environ["PORT"], "instance": INSTANCE}))
        elif self.path == "/health":
            self.answer(200, "ok")
        else:
            self.answer(404, "not here")

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"python app listening pid={os.getpid()} port={PORT} instance={INSTANCE}", flush=True)
print(f"python app stderr instance={INSTANCE}", file=sys.stderr, flush=True)
server.serve_forever()
