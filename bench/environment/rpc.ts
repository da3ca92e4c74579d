/**
 * Counts every gRPC call a Temporal client connection makes (method, latency, non-OK status),
 * through the connection's `interceptors` option. Those are @grpc/grpc-js interceptors (the
 * SDK's own type), hence the bench's declared dependency on @grpc/grpc-js: a workflow-client
 * interceptor would not see the long-polls nor the NOT_FOUND describes the ingress makes.
 */
import { performance } from 'node:perf_hooks';
import { InterceptingCall, status as GrpcStatus, type Interceptor } from '@grpc/grpc-js';
import { percentiles } from './measure';

export interface RpcUse {
  calls: number;
  perItem: number;
  meanMs: number;
  p95Ms: number;
  /** gRPC status name → count, for calls that did not end OK (e.g. NOT_FOUND for describes). */
  errors: Record<string, number>;
}

export type RpcRaw = Map<string, { ms: number[]; errors: Record<string, number> }>;

export class RpcStats {
  private calls: RpcRaw = new Map();

  readonly interceptor: Interceptor = (options, nextCall) => {
    const full = options.method_definition.path;
    const method = full.slice(full.lastIndexOf('/') + 1);
    const t0 = performance.now();
    return new InterceptingCall(nextCall(options), {
      start: (metadata, _listener, next) => {
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            this.record(method, performance.now() - t0, status.code);
            nextStatus(status);
          },
        });
      },
    });
  };

  private record(method: string, ms: number, code: number): void {
    let entry = this.calls.get(method);
    if (!entry) this.calls.set(method, (entry = { ms: [], errors: {} }));
    entry.ms.push(ms);
    if (code !== GrpcStatus.OK) {
      const name = GrpcStatus[code] ?? String(code);
      entry.errors[name] = (entry.errors[name] ?? 0) + 1;
    }
  }

  /** What was recorded since the last take. */
  take(): RpcRaw {
    const taken = this.calls;
    this.calls = new Map();
    return taken;
  }

  static summarize(raws: RpcRaw[], items: number): Record<string, RpcUse> {
    const merged: RpcRaw = new Map();
    for (const raw of raws) {
      for (const [method, { ms, errors }] of raw) {
        let entry = merged.get(method);
        if (!entry) merged.set(method, (entry = { ms: [], errors: {} }));
        entry.ms.push(...ms);
        for (const [k, v] of Object.entries(errors)) entry.errors[k] = (entry.errors[k] ?? 0) + v;
      }
    }
    const out: Record<string, RpcUse> = {};
    for (const [method, { ms, errors }] of [...merged.entries()].sort(
      (a, b) => b[1].ms.length - a[1].ms.length,
    )) {
      const p = percentiles(ms);
      out[method] = { calls: ms.length, perItem: ms.length / items, meanMs: p.mean, p95Ms: p.p95, errors };
    }
    return out;
  }
}
