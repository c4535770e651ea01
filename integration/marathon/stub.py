"""A stand-in for Marathon's REST API (`GET /v2/apps`, `GET /v2/apps/<id>?embed=app.tasks`,
in Marathon 1.x's shapes): Marathon cannot be installed here (no package in Debian, PyPI
or npm; it needs Mesos), so this is a mock, and says so. The test sets an app's tasks
with `PUT /stub/apps/<id>` (a JSON list of tasks) and removes it with
`DELETE /stub/apps/<id>`.

stub.py PORT   (prints `listening on 127.0.0.1:<port>` on stderr)
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

apps = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        with lock:
            if path == "/v2/apps":
                return self.answer(200, {"apps": [{"id": i, "instances": len(t)} for i, t in apps.items()]})
            if path.startswith("/v2/apps/"):
                app_id = path[len("/v2/apps"):]
                if app_id in apps:
                    return self.answer(200, {"app": {"id": app_id, "tasks": apps[app_id]}})
                return self.answer(404, {"message": "App '%s' does not exist" % app_id})
        self.answer(404, {"message": "not found"})

    def do_PUT(self):
        if self.path.startswith("/stub/apps/"):
            n = int(self.headers.get("Content-Length", "0"))
            tasks = json.loads(self.rfile.read(n))
            with lock:
                apps[self.path[len("/stub/apps"):]] = tasks
            return self.answer(200, {})
        self.answer(404, {})

    def do_DELETE(self):
        if self.path.startswith("/stub/apps/"):
            with lock:
                apps.pop(self.path[len("/stub/apps"):], None)
            return self.answer(200, {})
        self.answer(404, {})


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
print("listening on 127.0.0.1:%d" % server.server_address[1], file=sys.stderr, flush=True)
server.serve_forever()
