/* global Buffer, setTimeout, clearTimeout, setInterval, clearInterval */
// A tiny DHCP client for tests, run inside a network namespace (`ip netns exec NS node
// dhcp-probe.mjs JSON`): one DHCPDISCOVER per probe as a PXE / UEFI / iPXE client would send
// it (options 93, 60, 77, 175), the first DHCPOFFER printed as one JSON line; with `tftp`, the
// offered file fetched by TFTP (RFC 1350) and its size and SHA-256 printed. Plain JavaScript
// so that it runs without tsx.
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const { probes, timeoutMs = 5000, clientAddress } = JSON.parse(process.argv[2]);

function packet(probe, xid, mac, messageType = 1, bootItem) {
  const head = Buffer.alloc(240);
  head[0] = 1; // BOOTREQUEST
  head[1] = 1; // Ethernet
  head[2] = 6;
  head.writeUInt32BE(xid, 4);
  head.writeUInt16BE(0x8000, 10); // broadcast: the client has no address yet
  mac.copy(head, 28);
  head.writeUInt32BE(0x63825363, 236); // magic cookie
  const opts = [];
  const opt = (code, value) => opts.push(Buffer.from([code, value.length]), value);
  opt(53, Buffer.from([messageType])); // DHCPDISCOVER, or the DHCPREQUEST of PXE boot server discovery
  if (bootItem !== undefined) opt(43, Buffer.from([71, 4, bootItem >> 8, bootItem & 0xff, 0, 0, 255])); // PXE_BOOT_ITEM, layer 0
  opt(55, Buffer.from([1, 3, 6, 43, 60, 66, 67, 175]));
  const arch = Buffer.alloc(2);
  arch.writeUInt16BE(probe.arch);
  opt(93, arch);
  opt(94, Buffer.from([1, 3, 16])); // UNDI 3.16
  opt(97, Buffer.concat([Buffer.from([0]), randomBytes(16)])); // client UUID (PXE)
  const kind = probe.arch === 16 || probe.arch === 19 ? 'HTTPClient' : 'PXEClient';
  opt(60, Buffer.from(`${kind}:Arch:${String(probe.arch).padStart(5, '0')}:UNDI:003016`));
  if (probe.ipxe) {
    opt(77, Buffer.from('iPXE'));
    opt(175, Buffer.from([0x13, 1, 1, 0x14, 1, 1])); // iPXE's features: HTTP, HTTPS
  }
  opts.push(Buffer.from([255]));
  return Buffer.concat([head, ...opts]);
}

/** The type of the first PXE boot menu item (option 43, sub-option 9), if the offer has a menu. */
function firstMenuItem(encap) {
  for (let i = 0; encap && i + 1 < encap.length; ) {
    if (encap[i] === 255) break;
    if (encap[i] === 9 && encap[i + 1] >= 2) return encap.readUInt16BE(i + 2);
    i += 2 + encap[i + 1];
  }
  return undefined;
}

function parseOffer(msg) {
  const cstr = (b) => b.subarray(0, Math.max(0, b.indexOf(0) === -1 ? b.length : b.indexOf(0))).toString('latin1');
  const options = {};
  for (let i = 240; i < msg.length; ) {
    const code = msg[i];
    if (code === 255) break;
    if (code === 0) {
      i += 1;
      continue;
    }
    const len = msg[i + 1];
    options[code] = msg.subarray(i + 2, i + 2 + len);
    i += 2 + len;
  }
  const ip = (b) => [...b].join('.');
  return {
    type: options[53]?.[0],
    yiaddr: ip(msg.subarray(16, 20)),
    siaddr: ip(msg.subarray(20, 24)),
    sname: cstr(msg.subarray(44, 108)),
    file: cstr(msg.subarray(108, 236)),
    option67: options[67] ? cstr(options[67]) : undefined,
    vendorClass: options[60] ? options[60].toString('latin1') : undefined,
    serverId: options[54] ? ip(options[54]) : undefined,
    hasOption43: options[43] !== undefined,
    bootItem: firstMenuItem(options[43]),
  };
}

function tftpGet(server, file) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const hash = createHash('sha256');
    let size = 0;
    let expected = 1;
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`TFTP ${file}: timed out`));
    }, timeoutMs);
    sock.on('message', (msg, rinfo) => {
      const op = msg.readUInt16BE(0);
      if (op === 5) {
        clearTimeout(timer);
        sock.close();
        reject(new Error(`TFTP ${file}: error ${msg.readUInt16BE(2)} ${msg.subarray(4).toString('latin1').replace(/\0.*$/, '')}`));
        return;
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      const ack = Buffer.alloc(4);
      ack.writeUInt16BE(4, 0);
      ack.writeUInt16BE(block, 2);
      sock.send(ack, rinfo.port, rinfo.address);
      if (block !== expected) return; // a retransmission
      expected = (expected + 1) & 0xffff;
      const data = msg.subarray(4);
      size += data.length;
      hash.update(data);
      if (data.length < 512) {
        clearTimeout(timer);
        sock.close();
        resolve({ size, sha256: hash.digest('hex') });
      }
    });
    sock.bind(0, () => {
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`, 'latin1')]);
      sock.send(rrq, 69, server);
    });
  });
}

/** PXE boot server discovery (PXE 2.1, 2.2.5): unicast to the proxy's port 4011 from our own address. */
function bootServer(probe, offer, mac) {
  return new Promise((resolve) => {
    const s4011 = dgram.createSocket('udp4');
    const xid = randomBytes(4).readUInt32BE(0);
    const req = packet(probe, xid, mac, 3, offer.bootItem);
    req.set(clientAddress.split('.').map(Number), 12); // ciaddr
    const timer = setTimeout(() => {
      s4011.close();
      resolve(null);
    }, timeoutMs);
    s4011.on('message', (msg) => {
      if (msg[0] !== 2 || msg.readUInt32BE(4) !== xid) return;
      clearTimeout(timer);
      s4011.close();
      resolve(parseOffer(msg));
    });
    s4011.bind(0, clientAddress, () => s4011.send(req, 4011, offer.serverId));
  });
}

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const pending = new Map();
sock.on('message', (msg) => {
  if (msg[0] !== 2 || msg.length < 240) return;
  const waiter = pending.get(msg.readUInt32BE(4));
  if (waiter) {
    pending.delete(msg.readUInt32BE(4));
    waiter(parseOffer(msg));
  }
});
await new Promise((resolve) => sock.bind(68, '0.0.0.0', resolve));
sock.setBroadcast(true);

for (const probe of probes) {
  const xid = randomBytes(4).readUInt32BE(0);
  const mac = Buffer.concat([Buffer.from([0x52, 0x54, 0x00]), randomBytes(3)]);
  let timer;
  const offer = new Promise((resolve) => {
    pending.set(xid, resolve);
    timer = setTimeout(() => {
      pending.delete(xid);
      resolve(null);
    }, timeoutMs);
  });
  // Asked again each second, as clients do: the first broadcast may precede the server's readiness.
  const ask = packet(probe, xid, mac);
  const resend = setInterval(() => sock.send(ask, 67, '255.255.255.255'), 1000);
  sock.send(ask, 67, '255.255.255.255');
  let got = await offer;
  clearInterval(resend);
  clearTimeout(timer);
  const result = { probe, offer: got };
  if (got && got.yiaddr === '0.0.0.0') {
    // A proxyDHCP offer: the file comes from PXE boot server discovery, a DHCPREQUEST to port 4011.
    result.boot = got = await bootServer(probe, got, mac);
  }
  if (got && probe.tftp) {
    const name = got.option67 ?? got.file;
    result.tftp = await tftpGet(got.siaddr !== '0.0.0.0' ? got.siaddr : got.serverId, name).catch((err) => ({ error: err.message }));
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
sock.close();
