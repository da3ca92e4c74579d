/**
 * Admission control follows Temporal's start latency (client/ingress/admission.ts): pure
 * arithmetic on a fake clock. The integration test (admission.test.ts) drives the ingress.
 */
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../client/ingress/admission';

const req = () => ({}) as FastifyRequest;

function setup(limit = 100) {
  let now = 0;
  const limits: number[] = [];
  const admission = new Admission(limit, { onAdmissionLimit: (n) => limits.push(n) }, () => now);
  return { admission, limits, advance: (ms: number) => (now += ms) };
}

describe('Admission follows the start latency', () => {
  it('cuts the admitted count to 80% per interval while many slow starts are under way, never below 8', () => {
    const { admission, limits, advance } = setup(100);
    expect(admission.admits).toBe(100);
    // Slow starts with few of them under way (a busy machine): no cut, however many calls
    // wait for IMT's outcome.
    for (let i = 0; i < 90; i++) admission.enter(req());
    for (let i = 0; i < 10; i++) admission.starting();
    admission.started(900);
    expect(admission.admits).toBe(100);
    // Many slow starts at Temporal's door: this ingress's own queue.
    for (let i = 0; i < 40; i++) admission.starting();
    advance(600);
    admission.started(900);
    expect(admission.admits).toBe(80);
    // A burst of slow starts within one interval is one signal.
    for (let i = 0; i < 20; i++) {
      admission.starting();
      admission.started(900);
    }
    expect(admission.admits).toBe(80);
    for (let i = 0; i < 60; i++) {
      advance(600);
      admission.starting();
      admission.started(900);
    }
    expect(admission.admits).toBe(8);
    expect(limits[0]).toBe(100);
    expect(limits.at(-1)).toBe(8);
    // A configured limit below the floor is never raised.
    const small = setup(3);
    for (let i = 0; i < 20; i++) small.admission.starting();
    for (let i = 0; i < 5; i++) {
      small.advance(600);
      small.admission.started(900);
    }
    expect(small.admission.admits).toBe(3);
  });

  it('refuses past the admitted count, and grows back by one per fast start', () => {
    const { admission, advance } = setup(20);
    for (let i = 0; i < 20; i++) admission.starting();
    for (let i = 0; i < 10; i++) {
      advance(600);
      admission.starting();
      admission.started(2000);
    }
    const allowed = admission.admits;
    expect(allowed).toBeLessThan(20);
    const held = Array.from({ length: allowed }, req);
    for (const r of held) expect(admission.enter(r)).toBe(true);
    expect(admission.enter(req())).toBe(false);
    // Fast starts bring the average down, then each adds one back, up to the configured limit.
    for (let i = 0; i < 100; i++) admission.started(20);
    expect(admission.admits).toBe(20);
    expect(admission.enter(req())).toBe(true);
    // A failed start is not a latency sample.
    admission.started(undefined);
    expect(admission.admits).toBe(20);
  });

  it('answers new payments quickly once a quarter of what it admits is in flight', () => {
    const { admission } = setup(40);
    for (let i = 0; i < 10; i++) admission.enter(req());
    expect(admission.deep()).toBe(false);
    admission.enter(req());
    expect(admission.deep()).toBe(true);
    expect(admission.planFor(5000).quick).toBe(true);
  });

  it('answers right after the start while starts are slow, and waits again once they are fast', () => {
    const { admission } = setup(40);
    expect(admission.planFor(5000).quick).toBe(false);
    admission.starting();
    admission.started(900);
    expect(admission.planFor(5000).quick).toBe(true);
    for (let i = 0; i < 20; i++) admission.started(20);
    expect(admission.planFor(5000).quick).toBe(false);
  });
});
