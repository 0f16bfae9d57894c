// Runs inside a boot network's namespace (test/e2e/boot-network.ts starts it with `ip netns exec`):
// each TCP port on the namespace's server address is piped to a Unix socket, which the test
// process serves on the host side (the filesystem is shared across namespaces, the network is
// not), and an optional SNTP responder answers on UDP 123 with the host's clock.
// Argument: JSON { address, tcp: [{ port, socket }], ntp: boolean }.
import * as dgram from 'node:dgram';
import * as net from 'node:net';

interface RelayConfig {
  address: string;
  tcp: { port: number; socket: string }[];
  ntp: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as RelayConfig;

function listenTcp(port: number, socket: string): Promise<void> {
  const server = net.createServer((guest) => {
    const host = net.connect(socket);
    // The guest's address first, one line: the host side picks a server per machine by it.
    host.write(`${guest.remoteAddress ?? ''}\n`);
    guest.pipe(host).pipe(guest);
    guest.on('error', () => host.destroy());
    host.on('error', () => guest.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.address, () => resolve());
  });
}

// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_EPOCH_OFFSET = 2_208_988_800;

function writeNtpTime(buf: Buffer, offset: number, ms: number): void {
  const seconds = Math.floor(ms / 1000) + NTP_EPOCH_OFFSET;
  buf.writeUInt32BE(seconds >>> 0, offset);
  buf.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, offset + 4);
}

/** A server reply (RFC 4330 SNTP): stratum 1, the client's transmit time echoed as originate time. */
function sntpReply(request: Buffer): Buffer {
  const reply = Buffer.alloc(48);
  const version = (request.readUInt8(0) >> 3) & 0x7;
  reply[0] = (0 << 6) | (version << 3) | 4; // no leap warning, the client's version, mode 4 (server)
  reply[1] = 1; // stratum 1: a primary reference
  reply[2] = request.readUInt8(2); // poll interval, as asked
  reply[3] = 0xec; // precision: about a microsecond (-20)
  reply.write('LOCL', 12, 'latin1'); // reference id
  const now = Date.now();
  writeNtpTime(reply, 16, now); // reference time
  request.copy(reply, 24, 40, 48); // originate = the client's transmit time
  writeNtpTime(reply, 32, now); // receive time
  writeNtpTime(reply, 40, now); // transmit time
  return reply;
}

function listenNtp(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, peer) => {
    if (msg.length < 48) return;
    socket.send(sntpReply(msg), peer.port, peer.address);
    process.stdout.write(`NTP-REQUEST ${peer.address}\n`);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(123, config.address, () => resolve());
  });
}

async function main(): Promise<void> {
  await Promise.all(config.tcp.map((t) => listenTcp(t.port, t.socket)));
  if (config.ntp) await listenNtp();
  process.stdout.write('RELAY-READY\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`relay failed: ${String(err)}\n`);
  process.exit(1);
});
