// A PingService client on Apache Thrift's Node.js library, for the end-to-end tests.
// Same arguments and output as client.py (without --multiplexed).
'use strict';
const path = require('path');
const thrift = require('thrift');
const gen = process.env.L5D_THRIFT_GEN_JS;
const PingService = require(path.join(gen, 'PingService.js'));
const types = require(path.join(gen, 'ping_types.js'));

const args = {transport: 'framed', protocol: 'binary', connections: '1', 'timeout-ms': '20000'};
const calls = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) {
    args[a.slice(2)] = process.argv[++i];
  } else {
    calls.push(a);
  }
}
const [host, port] = [args.addr.slice(0, args.addr.lastIndexOf(':')), Number(args.addr.slice(args.addr.lastIndexOf(':') + 1))];

function open() {
  return new Promise((resolve, reject) => {
    const conn = thrift.createConnection(host, port, {
      transport: args.transport === 'framed' ? thrift.TFramedTransport : thrift.TBufferedTransport,
      protocol: args.protocol === 'binary' ? thrift.TBinaryProtocol : thrift.TCompactProtocol,
      connect_timeout: Number(args['timeout-ms']),
      timeout: Number(args['timeout-ms']),
      max_attempts: 1,
    });
    conn.on('error', (e) => { conn.lastError = e; });
    conn.once('connect', () => resolve(conn));
    conn.once('error', reject);
  });
}

function outcome(e) {
  if (e instanceof types.PingError) return {declared: e.why};
  if (e instanceof thrift.Thrift.TApplicationException || e.name === 'TApplicationException') {
    return {app_error: {type: e.type, message: e.message || ''}};
  }
  return {transport_error: String(e && e.message || e)};
}

async function run(_, index) {
  const results = [];
  let conn = null;
  let client = null;
  for (const template of calls) {
    const call = template.split('{conn}').join(String(index));
    try {
      if (!client) {
        conn = await open();
        client = thrift.createClient(PingService, conn);
      }
      const closed = new Promise((_, reject) => conn.once('close', () => reject(new Error('connection closed'))));
      let value;
      if (call.startsWith('ping:')) value = await Promise.race([client.ping(call.slice(5)), closed]);
      else if (call.startsWith('fire:')) { client.fire(call.slice(5)); value = null; }
      else if (call === 'fired') value = await Promise.race([client.fired(), closed]);
      else throw new Error(`unknown call ${call}`);
      closed.catch(() => {});
      results.push({ok: value});
    } catch (e) {
      const o = outcome(e);
      results.push(o);
      if (o.transport_error && conn) {
        conn.end();
        conn = client = null;
      }
    }
  }
  if (conn) conn.end();
  return results;
}

(async () => {
  const all = await Promise.all(Array.from({length: Number(args.connections)}, (_, i) => run(_, i)));
  process.stdout.write(JSON.stringify(all) + '\n');
  process.exit(0);
})();
