/**
 * Links into the Temporal UI, for CLI output, alerts, the demo and the status call.
 *
 * The UI's base URL is TEMPORAL_UI_URL when set (a real cluster's UI lives wherever its
 * operators put it); without TEMPORAL_ADDRESS it is the embedded dev server's UI on
 * TEMPORAL_UI_PORT (default 8233); otherwise unknown, and no links are printed.
 */
export function temporalUiBaseUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.TEMPORAL_UI_URL?.trim();
  if (explicit && /^https?:\/\/\S+$/.test(explicit)) return explicit.replace(/\/+$/, '');
  if (env.TEMPORAL_ADDRESS?.trim()) return undefined;
  const port = Number(env.TEMPORAL_UI_PORT?.trim() || 8233);
  return Number.isInteger(port) && port > 0 && port < 65536 ? `http://127.0.0.1:${port}` : undefined;
}

/** `<base>/namespaces/<ns>/workflows/<workflowId>` — the run's page in the Temporal UI. */
export function workflowUiUrl(
  base: string | undefined,
  namespace: string,
  workflowId: string,
): string | undefined {
  if (!base) return undefined;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The UI's workflow list filtered by a visibility query, e.g. `TransactionId="T1"`. */
export function workflowListUiUrl(
  base: string | undefined,
  namespace: string,
  query: string,
): string | undefined {
  if (!base) return undefined;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}
