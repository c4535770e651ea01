"""A PingService client on Apache Thrift's Python library, for the end-to-end tests.

client.py --addr HOST:PORT --transport framed|buffered --protocol binary|compact
          [--multiplexed] [--connections N] CALL...

CALL is `ping:<msg>`, `fire:<msg>` or `fired`; `{conn}` in it becomes the connection's
index. Each of N connections (concurrently) makes
the calls in order on one connection, reconnecting after a transport error. Prints one
JSON line: per connection, per call, one of {"ok": value}, {"declared": why},
{"app_error": {"type": n, "message": m}}, {"transport_error": text}.
"""

import argparse
import json
import os
import sys
import threading

sys.path.insert(0, os.environ["L5D_THRIFT_GEN_PY"])

from ping import PingService  # noqa: E402
from ping.ttypes import PingError  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol, TMultiplexedProtocol  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402


def connect(a):
    host, port = a.addr.rsplit(":", 1)
    sock = TSocket.TSocket(host, int(port))
    sock.setTimeout(a.timeout_ms)
    trans = TTransport.TFramedTransport(sock) if a.transport == "framed" else TTransport.TBufferedTransport(sock)
    proto = (
        TBinaryProtocol.TBinaryProtocol(trans, strictRead=False, strictWrite=not a.old_binary)
        if a.protocol == "binary"
        else TCompactProtocol.TCompactProtocol(trans)
    )
    if a.multiplexed:
        proto = TMultiplexedProtocol.TMultiplexedProtocol(proto, "PingService")
    trans.open()
    return trans, PingService.Client(proto)


def run(a, out, i):
    results = []
    trans = client = None
    for call in a.calls:
        call = call.replace("{conn}", str(i))
        try:
            if client is None:
                trans, client = connect(a)
            if call.startswith("ping:"):
                results.append({"ok": client.ping(call[5:])})
            elif call.startswith("fire:"):
                client.fire(call[5:])
                results.append({"ok": None})
            elif call == "fired":
                results.append({"ok": client.fired()})
            else:
                raise SystemExit("unknown call %r" % call)
        except PingError as e:
            results.append({"declared": e.why})
        except TApplicationException as e:
            results.append({"app_error": {"type": e.type, "message": e.message or ""}})
        except (TTransport.TTransportException, OSError, EOFError) as e:
            results.append({"transport_error": str(e) or type(e).__name__})
            if trans is not None:
                trans.close()
            trans = client = None
    if trans is not None:
        trans.close()
    out[i] = results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--transport", choices=["framed", "buffered"], default="framed")
    ap.add_argument("--protocol", choices=["binary", "compact"], default="binary")
    ap.add_argument("--old-binary", action="store_true", help="write the non-strict binary header")
    ap.add_argument("--multiplexed", action="store_true")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--timeout-ms", type=int, default=20000)
    ap.add_argument("calls", nargs="+")
    a = ap.parse_args()
    out = [None] * a.connections
    threads = [threading.Thread(target=run, args=(a, out, i)) for i in range(a.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
