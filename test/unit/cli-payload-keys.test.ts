import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, resolvePayloadKeys, type CliSettings } from '../../client/cli/context';
import { loadOrCreateLocalPayloadKeys } from '../../common/payload-codec';

const settings = (dataDir: string, addressGiven: boolean): CliSettings => ({
  address: '127.0.0.1:7233',
  namespace: 'default',
  taskQueue: 'imt-ic',
  dataDir,
  ingressPort: 3000,
  addressGiven,
});

describe('CLI payload keys', () => {
  it("names this machine's local key file when PAYLOAD_KEYS is missing and one exists", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-keys-'));
    const missing = () => resolvePayloadKeys(settings(dataDir, true), {});
    expect(missing).toThrow(CliError);
    expect(missing).not.toThrow(/payload-keys/);
    const [local] = loadOrCreateLocalPayloadKeys(dataDir);
    expect(missing).toThrow(`PAYLOAD_KEYS_FILE=${path.join(dataDir, 'payload-keys')}`);
    // Without an address the CLI uses that key itself.
    expect(resolvePayloadKeys(settings(dataDir, false), {})[0].id).toBe(local.id);
  });
});
