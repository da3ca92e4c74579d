/**
 * Invoice Cloud simulator: IC-level failure modes (answers inside HTTP 200), switched by tests
 * through `sim.icFaults` or `/_sim/ic-faults`.
 */
import { z } from 'zod';
import { AUTH_FAILED, type IcMethod } from './soap';

/**
 * Failure modes that live inside IC's answers (HTTP 200), unlike the transport faults of
 * `../faults.ts`:
 * - `auth`: the next `count` calls (all while `count` is null) answer Success=false with
 *   IC's authentication message, as if the WebServiceKey had been rotated;
 * - `busy`: the same with a transient "server busy, try again" message;
 * - `invoiceCountDelta`: UploadInvoiceFile loads the file but reports InvoiceCount + delta;
 * - `loadDelayMs`: an uploaded invoice's new balance shows in ViewInvoiceByInvoiceNumber
 *   only after this delay (IC loads files asynchronously); `null` = never (a stale IC).
 */
export interface IcFaultConfig {
  refuse: { kind: 'auth' | 'busy'; count: number | null; methods?: IcMethod[] } | null;
  invoiceCountDelta: number;
  loadDelayMs: number | null;
}

export const DEFAULT_IC_FAULTS: Readonly<IcFaultConfig> = Object.freeze({
  refuse: null,
  invoiceCountDelta: 0,
  loadDelayMs: 0,
});

export const IC_BUSY_MESSAGE = 'Server is busy processing other requests; please try again later.';

/** Validates a `PUT /_sim/ic-faults` body. */
export const icFaultPatchSchema = z
  .object({
    refuse: z
      .object({
        kind: z.enum(['auth', 'busy']),
        count: z.number().int().min(1).nullable(),
        methods: z.array(z.enum(['UploadInvoiceFile', 'ViewInvoiceByInvoiceNumber'])).optional(),
      })
      .strict()
      .nullable(),
    invoiceCountDelta: z.number().int(),
    loadDelayMs: z.number().int().min(0).nullable(),
  })
  .partial()
  .strict();

export class IcFaultController {
  private config: IcFaultConfig = { ...DEFAULT_IC_FAULTS };

  get(): IcFaultConfig {
    return { ...this.config, refuse: this.config.refuse && { ...this.config.refuse } };
  }

  set(patch: Partial<IcFaultConfig>): void {
    this.config = { ...this.config, ...patch };
  }

  clear(): void {
    this.config = { ...DEFAULT_IC_FAULTS };
  }

  /** The Success=false message to answer `method` with now, if any (counts the call). */
  refusal(method: IcMethod): string | null {
    const refuse = this.config.refuse;
    if (!refuse || (refuse.methods && !refuse.methods.includes(method))) return null;
    if (refuse.count !== null) {
      const left = refuse.count - 1;
      this.config = { ...this.config, refuse: left > 0 ? { ...refuse, count: left } : null };
    }
    return refuse.kind === 'auth' ? AUTH_FAILED : IC_BUSY_MESSAGE;
  }
}
