import { readFileSync } from 'node:fs';

/**
 * Reads a secret from `NAME` or from the file named by `NAME_FILE` (Docker/Kubernetes
 * secrets convention). Returns undefined when neither is set. The value is never logged.
 */
export function readSecret(env: NodeJS.ProcessEnv, name: string): { value?: string; error?: string } {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) return { error: `${name} and ${name}_FILE are both set; set only one` };
  if (direct) return { value: direct.trim() };
  if (file) {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (!value) return { error: `${name}_FILE points to an empty file (${file})` };
      return { value };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      return { error: `${name}_FILE cannot be read (${file}: ${code})` };
    }
  }
  return {};
}
