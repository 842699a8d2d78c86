/**
 * A TCP forwarder for the network tests: listens on `listenHost` (a free port) and relays each
 * connection to `targetHost`:`targetPort`. It joins a namespace to the host across a veth, either
 * way. A reset on either side ends both, as it would end a direct connection; closing cuts the open
 * connections.
 */
import net from 'node:net';

export interface TcpForwarder {
  /** `http://listenHost:port` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startTcpForwarder(listenHost: string, targetHost: string, targetPort: number): Promise<TcpForwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
