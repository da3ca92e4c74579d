/**
 * A loopback webhook shaped like Slack's incoming webhook (what `workflows/alerts.ts` posts to):
 * records each alert's title (its first block), its text and its idempotency key.
 */
import http from 'node:http';

export interface SlackAlert {
  title: string;
  text: string;
  key: string;
}

export interface SlackAlertSink {
  url: string;
  alerts: SlackAlert[];
  /** Alerts sent by the runs of `workflowId` (their idempotency keys start with it). */
  of(workflowId: string): SlackAlert[];
  close(): Promise<void>;
}

export async function startSlackAlertSink(): Promise<SlackAlertSink> {
  const alerts: SlackAlert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const parsed = JSON.parse(body) as {
        idempotency_key: string;
        text: string;
        blocks: { text: { text: string } }[];
      };
      alerts.push({ title: parsed.blocks[0].text.text, text: parsed.text, key: parsed.idempotency_key });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    alerts,
    of: (workflowId) => alerts.filter((a) => a.key.startsWith(`${workflowId}:`)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
