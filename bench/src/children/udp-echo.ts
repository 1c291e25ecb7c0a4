// Reference "server" for the directory benchmark: answers every UDP datagram with itself, QR
// set, doing no DNS work at all. It shows how many queries a second Node's UDP sockets carry on
// one core here, the ceiling for any DNS server written on node:dgram, next to the real servers.
// Socket options as in directory/src/dns/server.ts. Stops on SIGTERM.
//   node bench/dist/src/children/udp-echo.js <port>
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: udp-echo <port>');
  process.exit(2);
}
const udp = createSocket({
  type: 'udp4',
  reuseAddr: false,
  lookup: (address, _options, callback) =>
    (callback as (err: Error | null, address: string, family: number) => void)(null, address, 4),
});
udp.on('message', (packet, rinfo) => {
  if (packet.length < 12) return;
  packet[2] = (packet[2] as number) | 0x80;
  udp.send(packet, rinfo.port, rinfo.address);
});
udp.bind(port, '127.0.0.1');
process.on('SIGTERM', () => udp.close(() => process.exit(0)));
