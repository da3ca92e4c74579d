/** Admission: the in-flight cap, and a shorter wait for the run's answer while the ingress is busy. */
import { describe, expect, it } from 'vitest';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventEmitter } from 'node:events';
import { Admission, BUSY_WINDOW_MS } from '../../client/ingress/admission';

const call = () => {
  const raw = Object.assign(new EventEmitter(), { writableFinished: false });
  return { req: {} as FastifyRequest, reply: { raw } as unknown as FastifyReply, raw };
};

describe('admission', () => {
  it('admits up to its limit, frees a slot on answer or hang-up, and shortens the wait past a quarter', () => {
    const a = new Admission(8, {});
    const calls = Array.from({ length: 9 }, call);
    expect(calls.map((c) => a.enter(c.req, c.reply))).toEqual([...Array(8).fill(true), false]);
    expect(a.windowMs(5000)).toBe(BUSY_WINDOW_MS);
    // Answered: the response closes after it finished.
    calls[0].raw.writableFinished = true;
    calls[0].raw.emit('close');
    // Hung up: the response closes before it finished; its wait is aborted.
    const signal = a.hangUpSignal(calls[1].req)!;
    calls[1].raw.emit('close');
    expect(signal.aborted).toBe(true);
    expect(a.inFlight).toBe(6);
    for (const c of calls.slice(2, 8)) c.raw.emit('close');
    expect(a.inFlight).toBe(0);
    expect(a.windowMs(5000)).toBe(5000);
  });
});
