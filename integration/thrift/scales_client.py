"""A ThriftMux client: scales-rpc 2.0.1 (a third-party ThriftMux implementation: no
handshake, Tping first, Tdispatch with ClientId and Deadline contexts, Tdiscarded on
timeout), calling PingService, for the end-to-end tests.

scales_client.py --addr HOST:PORT [--timeout-s T] [--concurrent] CALL...

Calls and output as client.py (one connection). With --concurrent every call is made at
once, each from its own greenlet, on the same session. Prints one JSON line: the outcomes
in the order of the arguments, then the calls in the order their replies arrived.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.environ["L5D_THRIFT_GEN_PY"])

import gevent  # noqa: E402
from ping import PingService  # noqa: E402
from ping.ttypes import PingError  # noqa: E402
from scales.thriftmux import ThriftMux  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402


def outcome(client, call, arrived):
    try:
        if call.startswith("ping:"):
            r = {"ok": client.ping(call[5:])}
        elif call.startswith("fire:"):
            client.fire(call[5:])
            r = {"ok": None}
        elif call == "fired":
            r = {"ok": client.fired()}
        else:
            raise SystemExit("unknown call %r" % call)
    except Exception as e:  # scales wraps what the server raised
        inner = getattr(e, "inner_exception", None) or e
        if isinstance(inner, PingError):
            r = {"declared": inner.why}
        elif isinstance(inner, TApplicationException):
            r = {"app_error": {"type": inner.type, "message": inner.message or ""}}
        else:
            r = {"transport_error": "%s: %s" % (type(inner).__name__, inner)}
    arrived.append(call)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--timeout-s", type=float, default=10)
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("calls", nargs="+")
    a = ap.parse_args()
    client = ThriftMux.NewClient(
        PingService.Iface, "tcp://%s" % a.addr, timeout=a.timeout_s, client_id="scales-peer"
    )
    arrived = []
    if a.concurrent:
        jobs = [gevent.spawn(outcome, client, c, arrived) for c in a.calls]
        gevent.joinall(jobs)
        results = [j.value for j in jobs]
    else:
        results = [outcome(client, c, arrived) for c in a.calls]
    # A second list: the calls in the order their replies arrived.
    print(json.dumps([results, [{"ok": c} for c in arrived]]), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
