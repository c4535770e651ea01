"""A TTwitter client: twitter.common.rpc's TFinagleProtocol (Finagle's upgraded Thrift,
binary, framed), for the end-to-end tests.

ttwitter_client.py --addr HOST:PORT [--client-id NAME] [--dest /path]
                   [--delegations '/a=>/b;/c=>/d'] CALL...

Calls and output as client.py (one connection); stderr says whether the server accepted
the upgrade. --dest and --delegations fill the RequestHeader's `dest` (field 9) and
`delegations` (field 10), which the library supports but does not set itself.
"""

import argparse
import builtins
import json
import os
import sys

# twitter.common.rpc 0.3.9 is Python 2 code; this is the one name it needs.
builtins.long = int

sys.path.insert(0, os.environ["L5D_THRIFT_GEN_PY"])

from gen.twitter.finagle.thrift.ttypes import Delegation  # noqa: E402
from ping import PingService  # noqa: E402
from ping.ttypes import PingError  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from twitter.common.rpc.finagle.protocol import TFinagleProtocol  # noqa: E402


class Protocol(TFinagleProtocol):
    dest = None
    delegations = None

    def to_request_header(self, trace_id):
        h = TFinagleProtocol.to_request_header(self, trace_id)
        h.dest = self.dest
        h.delegations = self.delegations
        return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--client-id", default="ttwitter-peer")
    ap.add_argument("--dest")
    ap.add_argument("--delegations")
    ap.add_argument("calls", nargs="+")
    a = ap.parse_args()
    if a.delegations:
        Protocol.delegations = [
            Delegation(src=d.split("=>")[0].strip(), dst=d.split("=>")[1].strip())
            for d in a.delegations.split(";")
            if d.strip()
        ]
    Protocol.dest = a.dest
    host, port = a.addr.rsplit(":", 1)
    sock = TSocket.TSocket(host, int(port))
    sock.setTimeout(20000)
    trans = TTransport.TFramedTransport(sock)
    trans.open()
    proto = Protocol(trans, client_id=a.client_id)
    print("upgraded: %s" % proto._finagle_upgraded, file=sys.stderr, flush=True)
    client = PingService.Client(proto)
    results = []
    for call in a.calls:
        try:
            if call.startswith("ping:"):
                results.append({"ok": client.ping(call[5:])})
            elif call.startswith("fire:"):
                client.fire(call[5:])
                results.append({"ok": None})
            elif call == "fired":
                results.append({"ok": client.fired()})
        except PingError as e:
            results.append({"declared": e.why})
        except TApplicationException as e:
            results.append({"app_error": {"type": e.type, "message": e.message or ""}})
        except (TTransport.TTransportException, OSError, EOFError) as e:
            results.append({"transport_error": str(e) or type(e).__name__})
            break
    print(json.dumps([results]), flush=True)


if __name__ == "__main__":
    main()
