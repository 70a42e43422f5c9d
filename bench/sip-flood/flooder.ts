/**
 * Flood sender for bench/sip-flood, run as its own process so that sending does not compete with the server
 * under test: OPTIONS from each of `sources` (127.0.0.x addresses) at `ratePerSource` per second for
 * `seconds`, counting the answers. Prints one JSON line: { sent, answered }.
 */
import dgram from 'node:dgram';

const [target, sourcesArg, rateArg, secondsArg] = process.argv.slice(2);
const port = Number(target);
const sources = sourcesArg!.split(',');
const ratePerSource = Number(rateArg);
const seconds = Number(secondsArg);
const TICK_MS = 5;

const sockets = await Promise.all(sources.map((address) => new Promise<dgram.Socket>((resolve) => {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  socket.bind(0, address, () => resolve(socket));
})));
let sent = 0;
let answered = 0;
for (const socket of sockets) socket.on('message', () => { answered++; });

const message = (socket: dgram.Socket, n: number) => {
  const local = socket.address();
  return Buffer.from([
    `OPTIONS sip:flood@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${local.address}:${local.port};branch=z9hG4bK-f${n}-${local.port}`,
    'Max-Forwards: 70', `From: <sip:flood@${local.address}>;tag=f${local.port}`, `To: <sip:flood@127.0.0.1>`,
    `Call-ID: flood-${n}-${local.port}@${local.address}`, 'CSeq: 1 OPTIONS', 'User-Agent: conflux-bench', 'Content-Length: 0', '', '',
  ].join('\r\n'));
};

const started = performance.now();
const due = (now: number) => Math.floor(((now - started) / 1000) * ratePerSource);
const perSocketSent = sockets.map(() => 0);
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - started >= seconds * 1000) {
      clearInterval(timer);
      resolve();
      return;
    }
    const target = due(now);
    for (const [i, socket] of sockets.entries()) {
      while (perSocketSent[i]! < target) {
        socket.send(message(socket, perSocketSent[i]!), port, '127.0.0.1');
        perSocketSent[i]!++;
        sent++;
      }
    }
  }, TICK_MS);
});
await new Promise((resolve) => setTimeout(resolve, 1000));
console.log(JSON.stringify({ sent, answered }));
for (const socket of sockets) socket.close();
