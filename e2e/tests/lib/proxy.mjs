// A TCP proxy for the recovery tests: it stands between a client and a server and can
// cut every connection abruptly (a reset on both sides, as when a network path dies),
// then let clients through again, to the same or another server.
import net from 'node:net';

/** A TCP proxy whose connections can be reset at will and whose target can change. */
export async function tcpProxy(t, targetPort) {
  const pairs = new Set();
  let refusing = false;
  let target = targetPort;
  const reset = (socket) => {
    try {
      socket.resetAndDestroy();
    } catch {
      socket.destroy();
    }
  };
  const server = net.createServer((downstream) => {
    if (refusing) {
      reset(downstream);
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    const pair = { downstream, upstream };
    pairs.add(pair);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const drop = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    for (const s of [downstream, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const { downstream, upstream } of pairs) {
      downstream.destroy();
      upstream.destroy();
    }
    server.close();
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Resets every proxied connection (both sides) and refuses new ones. */
    cut() {
      refusing = true;
      for (const { downstream, upstream } of pairs) {
        reset(downstream);
        reset(upstream);
      }
      pairs.clear();
    },
    /** Accepts connections again, forwarding them to `port` (by default the same server). */
    restore(port = target) {
      target = port;
      refusing = false;
    },
  };
}
