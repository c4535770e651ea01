// A PingService server on Apache Thrift's Node.js library, for the end-to-end tests.
// Same arguments and behaviour as server.py (without --multiplexed).
'use strict';
const path = require('path');
const thrift = require('thrift');
const gen = process.env.L5D_THRIFT_GEN_JS;
const PingService = require(path.join(gen, 'PingService.js'));
const types = require(path.join(gen, 'ping_types.js'));

const args = {port: 0, transport: 'framed', protocol: 'binary', name: 'node'};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}

const fired = [];
const handler = {
  // Async, so a throw becomes a rejected promise the processor answers with.
  async ping(msg) {
    if (msg === 'raise') throw new types.PingError({why: 'asked to raise'});
    if (msg === 'crash') throw new Error('asked to crash');
    if (msg === 'close') {
      // Reject with a transport-level failure: the tests only use this with Python.
      throw new thrift.Thrift.TApplicationException(thrift.Thrift.TApplicationExceptionType.INTERNAL_ERROR, 'close is not supported');
    }
    const reply = `${args.name}:pong:${msg}`;
    if (msg.startsWith('sleep:')) {
      return new Promise((resolve) => setTimeout(() => resolve(reply), Number(msg.split(':')[1])));
    }
    return reply;
  },
  fire(msg) {
    fired.push(msg);
  },
  fired() {
    return fired.slice();
  },
};

const server = thrift.createServer(PingService, handler, {
  transport: args.transport === 'framed' ? thrift.TFramedTransport : thrift.TBufferedTransport,
  protocol: args.protocol === 'binary' ? thrift.TBinaryProtocol : thrift.TCompactProtocol,
});
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stderr.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
