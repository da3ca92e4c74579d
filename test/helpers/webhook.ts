/** A real alert webhook on loopback that records what it receives and can be switched to fail. */
import Fastify from 'fastify';

export interface ReceivedAlert {
  text: string;
  idempotencyKey?: string;
}

export interface AlertReceiver {
  url: string;
  received: ReceivedAlert[];
  /** While set, every delivery is answered with this status (e.g. 503: the webhook is down). */
  failWith: number | undefined;
  /** Alerts whose text mentions `needle`. */
  about(needle: string): ReceivedAlert[];
  close(): Promise<void>;
}

export async function startAlertReceiver(): Promise<AlertReceiver> {
  const app = Fastify();
  const receiver: AlertReceiver = {
    url: '',
    received: [],
    failWith: undefined,
    about: (needle) => receiver.received.filter((a) => a.text.includes(needle)),
    close: () => app.close(),
  };
  app.post('/hooks/alerts', async (req, reply) => {
    if (receiver.failWith !== undefined) return reply.code(receiver.failWith).send('down');
    const body = req.body as { text?: unknown };
    receiver.received.push({
      text: String(body.text),
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    });
    return reply.code(200).send('ok');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  receiver.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/alerts`;
  return receiver;
}
