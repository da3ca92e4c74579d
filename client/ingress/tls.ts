/**
 * HTTPS at the ingress (contracts A: INGRESS_TLS_CERT_FILE / INGRESS_TLS_KEY_FILE): TLS 1.2 or
 * newer only, and the certificate rotates without a restart — on SIGHUP, or when either file
 * changes (a certificate manager or a Kubernetes secret swapping the files). A pair that does
 * not load (a half-written file, a key that does not match) keeps the previous certificate in
 * service and is logged; the next change or SIGHUP tries again.
 */
import fs from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Logger } from '../../common/logger';

export interface IngressTlsFiles {
  certFile: string;
  keyFile: string;
}

/** TLS 1.0 and 1.1 are refused (deprecated by RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** How often the files' status is polled: polling sees a file replaced by rename, fs.watch does not. */
const WATCH_INTERVAL_MS = 1000;

export function secureContextOptions(files: IngressTlsFiles): SecureContextOptions {
  return {
    cert: fs.readFileSync(files.certFile),
    key: fs.readFileSync(files.keyFile),
    minVersion: MIN_TLS_VERSION,
  };
}

export interface CertificateReloader {
  /** Reads both files again; false (and the old certificate stays) when they do not load. */
  reload(): boolean;
  stop(): void;
}

export function reloadCertificateOnChange(
  server: TlsServer,
  files: IngressTlsFiles,
  logger: Logger,
): CertificateReloader {
  const reload = (): boolean => {
    try {
      const options = secureContextOptions(files);
      // Throws on a mismatched or malformed pair before the server is touched.
      createSecureContext(options);
      server.setSecureContext(options);
      logger.info({ certFile: files.certFile }, 'ingress: TLS certificate (re)loaded');
      return true;
    } catch (err) {
      logger.warn(
        {
          certFile: files.certFile,
          keyFile: files.keyFile,
          err: err instanceof Error ? err.message : String(err),
        },
        'ingress: TLS certificate not reloaded; the previous one stays in service',
      );
      return false;
    }
  };
  const onChange = (curr: fs.Stats, prev: fs.Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino || curr.size !== prev.size) reload();
  };
  const onSignal = () => void reload();
  fs.watchFile(files.certFile, { interval: WATCH_INTERVAL_MS, persistent: false }, onChange);
  fs.watchFile(files.keyFile, { interval: WATCH_INTERVAL_MS, persistent: false }, onChange);
  process.on('SIGHUP', onSignal);
  return {
    reload,
    stop() {
      fs.unwatchFile(files.certFile, onChange);
      fs.unwatchFile(files.keyFile, onChange);
      process.off('SIGHUP', onSignal);
    },
  };
}
