"""A PingService server on Apache Thrift's Python library, for the end-to-end tests.

server.py --port P --transport framed|buffered --protocol binary|compact --name NAME [--multiplexed]

Prints `listening on 127.0.0.1:<port>` on stderr once bound (port 0 picks one).
ping(msg) answers "<NAME>:pong:<msg>"; "raise" raises the declared PingError, "crash" an
undeclared exception (a TApplicationException reply), "sleep:<ms>" waits first, "close"
drops the connection without replying. fire(msg) records msg; fired() lists them.
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.environ["L5D_THRIFT_GEN_PY"])

from ping import PingService  # noqa: E402
from ping.ttypes import PingError  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.server import TServer  # noqa: E402
from thrift.TMultiplexedProcessor import TMultiplexedProcessor  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402


class Handler:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.fired_msgs = []

    def ping(self, msg):
        if msg == "raise":
            raise PingError(why="asked to raise")
        if msg == "crash":
            raise RuntimeError("asked to crash")
        if msg == "close":
            # The server closes a connection whose handler fails at the transport.
            raise TTransport.TTransportException(message="asked to close")
        if msg.startswith("sleep:"):
            time.sleep(int(msg.split(":")[1]) / 1000.0)
        return "%s:pong:%s" % (self.name, msg)

    def fire(self, msg):
        with self.lock:
            self.fired_msgs.append(msg)

    def fired(self):
        with self.lock:
            return list(self.fired_msgs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--transport", choices=["framed", "buffered"], default="framed")
    ap.add_argument("--protocol", choices=["binary", "compact"], default="binary")
    ap.add_argument("--name", default="py")
    ap.add_argument("--multiplexed", action="store_true")
    a = ap.parse_args()

    processor = PingService.Processor(Handler(a.name))
    if a.multiplexed:
        mux = TMultiplexedProcessor()
        mux.registerProcessor("PingService", processor)
        processor = mux
    transport = (
        TTransport.TFramedTransportFactory()
        if a.transport == "framed"
        else TTransport.TBufferedTransportFactory()
    )
    protocol = (
        TBinaryProtocol.TBinaryProtocolFactory(strictRead=False, strictWrite=True)
        if a.protocol == "binary"
        else TCompactProtocol.TCompactProtocolFactory()
    )
    sock = TSocket.TServerSocket(host="127.0.0.1", port=a.port)
    sock.listen()
    port = sock.handle.getsockname()[1]
    # serve() listens again; the socket is already bound.
    sock.listen = lambda: None
    server = TServer.TThreadedServer(processor, sock, transport, protocol, daemon=True)
    print("listening on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)
    server.serve()


if __name__ == "__main__":
    main()
