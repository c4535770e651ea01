"""A stand-in for `kubectl proxy` in front of a kube-apiserver, replaying responses that
were recorded from a real kube-apiserver v1.20.2 (integration/k8s/recorded.json, made by
the ignored test `k8s_namer_against_a_real_apiserver` in linkerd/tests/k8s.rs). CI cannot
afford building the apiserver (about 10 minutes), so this is a mock, and says so.

replay.py RECORDED.json PORT

GET of an Endpoints object answers its recorded state at the current step; a watch
streams the recorded events from the current step on, one more each time the test
POSTs /replay/next. Prints `listening on 127.0.0.1:<port>` on stderr.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

recorded = json.load(open(sys.argv[1]))
step = {"n": 0}
# An event the test asks for on top of the recorded ones: the API's answer to a watch
# from a resourceVersion it no longer has (410 Gone), which the real apiserver could not
# be made to send here (its watch cache kept every version).
extra = []
cond = threading.Condition()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        if self.path == "/replay/gone":
            with cond:
                extra.append({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": "too old resource version: 1 (75)", "reason": "Gone", "code": 410}})
                cond.notify_all()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/replay/next":
            with cond:
                step["n"] += 1
                cond.notify_all()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_error(404)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == recorded["object_path"]:
            with cond:
                state = recorded["states"][min(step["n"], len(recorded["states"]) - 1)]
            if state is None:
                body = json.dumps(recorded["not_found"]).encode()
                self.send_response(404)
            else:
                body = json.dumps(state).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path == recorded["watch_path"]:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = step["n"]
            try:
                while True:
                    with cond:
                        while step["n"] <= sent and not extra:
                            cond.wait()
                        upto = step["n"]
                        if extra:
                            line = (json.dumps(extra.pop(0)) + "\n").encode()
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                            self.wfile.write(b"0\r\n\r\n")
                            self.wfile.flush()
                            return
                    for i in range(sent, upto):
                        if i < len(recorded["events"]):
                            line = (json.dumps(recorded["events"][i]) + "\n").encode()
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                            self.wfile.flush()
                    sent = upto
            except (BrokenPipeError, ConnectionResetError):
                return
        self.send_error(404)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
server.daemon_threads = True
print("listening on 127.0.0.1:%d" % server.server_address[1], file=sys.stderr, flush=True)
server.serve_forever()
