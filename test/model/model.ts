/**
 * The model of the model-based test (issue 20, item 7): what IC, IMT's faults, operators and
 * the machine can do to a few transactions, as fast-check arbitraries, and the oracle that
 * judges what came of it. Pure: no I/O here (the driver in driver.ts carries the steps out).
 */
import fc from 'fast-check';

/** The amount IC's payment carries, and the other amount a conflicting delivery carries. */
export const AMOUNT = '40.00';
export const OTHER_AMOUNT = '1.00';

export type Method = 'credit' | 'echeck';
export type EventKind = 'payment' | 'void' | 'ach_reject';
/** `other`: the same transaction with another amount (a conflicting redelivery, a void that disagrees). */
export type Variant = 'same' | 'other';

export interface Copy {
  variant: Variant;
  /** The caller hangs up after this many ms (IC's timeout, a load balancer's). */
  abortMs?: number;
}

export type FaultKind =
  | '5xx'
  /** IMT applies the call and the answer is lost (the client times out). */
  | 'apply-then-hang'
  /** IMT applies the call and a gateway answers 5xx. */
  | 'apply-then-5xx'
  | '429'
  /** IMT never answers (not applied). */
  | 'hang'
  /** A definite 400 on every post for the invoice, repeats included, before IMT deduplicates. */
  | 'refuse-posts';
export type FaultRoute = 'post' | 'reverse' | 'any';
export type OperatorAction = 'terminate' | 'cancel' | 'reset' | 'retry' | 'dismiss';

export type Step =
  /** IC delivers an event: one or several concurrent copies; `background`: the next steps do not wait for the answers. */
  | { do: 'deliver'; tx: number; kind: EventKind; copies: Copy[]; background: boolean }
  /** IMT's faults from now on; lasting ones (429, hang, refuse-posts) end after `steps` more steps. */
  | { do: 'fault'; fault: FaultKind; route: FaultRoute; count: number; steps: number; tx: number }
  /** An operator acts on the transaction's run; after terminate/cancel/reset IC redelivers event `redeliver` (an index into what it sent). */
  | { do: 'operator'; tx: number; action: OperatorAction; redeliver: number }
  /** The worker dies (stopped) and comes back after `downMs`, while the next steps go on. */
  | { do: 'worker-kill'; downMs: number }
  | { do: 'pause'; ms: number };

export interface ModelCase {
  methods: Method[];
  steps: Step[];
}

const copyArb = fc.record(
  {
    variant: fc.constantFrom<Variant>('same', 'same', 'same', 'other'),
    abortMs: fc.constantFrom<number | undefined>(undefined, undefined, undefined, undefined, 40, 200, 700),
  },
  { requiredKeys: ['variant'] },
);

const stepArb = (txCount: number): fc.Arbitrary<Step> => {
  const tx = fc.integer({ min: 0, max: txCount - 1 });
  const deliver = (kinds: EventKind[], maxCopies: number) =>
    fc.record({
      do: fc.constant('deliver' as const),
      tx,
      kind: fc.constantFrom(...kinds),
      copies: fc.array(copyArb, { minLength: 1, maxLength: maxCopies }),
      background: fc.boolean(),
    });
  return fc.oneof(
    { weight: 6, arbitrary: deliver(['payment'], 3) },
    { weight: 4, arbitrary: deliver(['void', 'void', 'ach_reject'], 2) },
    {
      weight: 4,
      arbitrary: fc.record({
        do: fc.constant('fault' as const),
        fault: fc.constantFrom<FaultKind>(
          '5xx',
          '5xx',
          'apply-then-hang',
          'apply-then-hang',
          'apply-then-5xx',
          '429',
          'hang',
          'refuse-posts',
        ),
        route: fc.constantFrom<FaultRoute>('post', 'post', 'reverse', 'any'),
        count: fc.integer({ min: 1, max: 3 }),
        steps: fc.integer({ min: 1, max: 3 }),
        tx,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        do: fc.constant('operator' as const),
        tx,
        action: fc.constantFrom<OperatorAction>('terminate', 'cancel', 'reset', 'retry', 'retry', 'dismiss'),
        redeliver: fc.nat({ max: 5 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        do: fc.constant('worker-kill' as const),
        downMs: fc.constantFrom(300, 1500, 4000),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ do: fc.constant('pause' as const), ms: fc.constantFrom(200, 1000, 3000, 7000) }),
    },
  );
};

/** Every transaction starts with something from IC (mostly its payment, sometimes an early void / ACH reject), so that operators and faults meet live runs. */
const firstDeliveryArb = (tx: number): fc.Arbitrary<Step> =>
  fc.record({
    do: fc.constant('deliver' as const),
    tx: fc.constant(tx),
    kind: fc.constantFrom<EventKind>('payment', 'payment', 'payment', 'void', 'ach_reject'),
    copies: fc.array(copyArb, { minLength: 1, maxLength: 2 }),
    background: fc.boolean(),
  });

export const caseArb: fc.Arbitrary<ModelCase> = fc.integer({ min: 1, max: 3 }).chain((txCount) =>
  fc.record({
    methods: fc.array(fc.constantFrom<Method>('credit', 'echeck'), {
      minLength: txCount,
      maxLength: txCount,
    }),
    steps: fc
      .tuple(
        fc.tuple(...Array.from({ length: txCount }, (_, tx) => firstDeliveryArb(tx))),
        fc.array(stepArb(txCount), { minLength: 1, maxLength: 10 }),
      )
      .map(([first, rest]) => [...first, ...rest]),
  }),
);

// ---------------------------------------------------------------------------
// What happened, and the oracle.

/** One delivery as IC saw it. `status` undefined: IC got no answer (hung up, connection lost). */
export interface Sent {
  tx: number;
  kind: EventKind;
  variant: Variant;
  /** Sent in the final redelivery round (faults cleared). */
  final: boolean;
  sentAt: number;
  answeredAt?: number;
  status?: number;
  /** `status` of the answer body (201/202), e.g. REVERSED, NOT_POSTED. */
  answerStatus?: string;
}

export interface LedgerLine {
  kind: 'posting' | 'reversal';
  amount: string;
  at: string;
}

/** What the run of the transaction shows at the end. */
export interface FinalRun {
  /** RUNNING, COMPLETED, TERMINATED, … ; undefined: no run was ever started. */
  execution?: string;
  /** The PaymentStatus search attribute. */
  status?: string;
  /** A running run that waits for a person (state.parked). */
  parked: boolean;
  /** An alert whose text names the transaction was received. */
  alerted: boolean;
}

export const is2xx = (s: Sent) => s.status !== undefined && s.status >= 200 && s.status < 300;
export const cents = (amount: string) => Math.round(Number(amount) * 100);
export const amountOf = (s: Pick<Sent, 'variant'>) => (s.variant === 'same' ? AMOUNT : OTHER_AMOUNT);

/**
 * Where a conflicting delivery was answered 2xx after the content it conflicts with had been.
 * `retriedAt`: when an operator's retry of the transaction went through. A retry sets aside an
 * early void / ACH reject that does not match the payment (domain/transaction-events.ts,
 * docs/decisions.md "A set-aside event no longer binds"): after it, IC's event with the
 * payment's amount is the one that counts, and accepting it is right.
 */
export function intakeViolations(method: Method, sent: Sent[], retriedAt: readonly number[] = []): string[] {
  const out: string[] = [];
  const ok = sent.filter(is2xx);
  const paymentVariants = new Set(ok.filter((s) => s.kind === 'payment').map((s) => s.variant));
  const setAsideBefore = (earlier: Sent, later: Sent) =>
    earlier.kind !== 'payment' &&
    paymentVariants.size > 0 &&
    !paymentVariants.has(earlier.variant) &&
    retriedAt.some((t) => t > (earlier.answeredAt ?? Infinity) && t < later.sentAt);
  for (const later of ok) {
    for (const earlier of ok) {
      if (earlier === later || earlier.answeredAt === undefined || earlier.answeredAt >= later.sentAt)
        continue;
      const what = `${later.kind} ${amountOf(later)} answered ${later.status} after ${earlier.kind} ${amountOf(earlier)} was answered ${earlier.status}`;
      if (earlier.kind === later.kind && earlier.variant !== later.variant && !setAsideBefore(earlier, later))
        out.push(`conflicting content accepted: ${what}`);
      if (earlier.kind === 'payment' && later.kind !== 'payment' && earlier.variant !== later.variant)
        out.push(`reversal with another amount than the accepted payment accepted: ${what}`);
      if (earlier.kind === 'payment' && later.kind === 'ach_reject' && method !== 'echeck')
        out.push(`ACH reject of a card payment accepted: ${what}`);
    }
  }
  return [...new Set(out)];
}

export interface Verdict {
  expectedCents: number;
  netCents: number;
  violations: string[];
}

/**
 * IMT's net for the transaction must be what IC asked for — the accepted payment's amount, or
 * 0 once IC sent a void / ACH reject that matches it — or the transaction's own run is parked
 * with an alert naming it (or a person dismissed it). What the service told IC must be true of
 * IMT: a 201 for a payment means IMT holds it, a 201 REVERSED means IMT holds a reversal.
 */
export function judge(
  method: Method,
  sent: Sent[],
  ledger: LedgerLine[],
  run: FinalRun,
  retriedAt: readonly number[] = [],
): Verdict {
  const violations = intakeViolations(method, sent, retriedAt);
  const postings = ledger.filter((e) => e.kind === 'posting');
  const reversals = ledger.filter((e) => e.kind === 'reversal');
  if (postings.length > 1) violations.push(`${postings.length} postings in IMT`);
  if (reversals.length > 1) violations.push(`${reversals.length} reversals in IMT`);
  const netCents =
    postings.reduce((s, e) => s + cents(e.amount), 0) - reversals.reduce((s, e) => s + cents(e.amount), 0);

  const acceptedPayments = new Set(sent.filter((s) => s.kind === 'payment' && is2xx(s)).map(amountOf));
  if (acceptedPayments.size > 1)
    violations.push(`payments of ${[...acceptedPayments].join(' and ')} were both answered 2xx`);
  const accepted = [...acceptedPayments][0];
  const matchingReversal =
    accepted !== undefined &&
    sent.some(
      (s) => s.kind !== 'payment' && amountOf(s) === accepted && (s.kind === 'void' || method === 'echeck'),
    );
  const expectedCents = accepted === undefined || matchingReversal ? 0 : cents(accepted);

  const excused = (run.parked && run.alerted) || run.status === 'DISMISSED';
  if (netCents !== expectedCents && !excused)
    violations.push(
      `IMT's net is ${netCents} cents, IC asked for ${expectedCents}, and the run is ${run.execution ?? 'absent'}/${run.status ?? '-'}` +
        `${run.parked ? ' parked' : ''}${run.parked && !run.alerted ? ' without an alert naming it' : ''}`,
    );

  for (const s of sent.filter((x) => x.status === 201)) {
    if (s.kind === 'payment' && postings.length === 0)
      violations.push(`payment answered 201 but IMT holds no posting`);
    if (s.kind !== 'payment' && s.answerStatus === 'REVERSED' && reversals.length === 0)
      violations.push(`${s.kind} answered 201 REVERSED but IMT holds no reversal`);
    if (s.kind !== 'payment' && s.answerStatus === 'NOT_POSTED') {
      const before = postings.filter((p) => Date.parse(p.at) <= (s.answeredAt ?? 0));
      if (before.length > 0 && reversals.length === 0)
        violations.push(`${s.kind} answered 201 NOT_POSTED while IMT held the posting, never reversed`);
    }
  }
  return { expectedCents, netCents, violations: [...new Set(violations)] };
}

/** One line per step, for the report of a failing case. */
export function describeCase(c: ModelCase): string {
  const lines = c.methods.map((m, i) => `tx${i}: ${m}`);
  for (const s of c.steps) {
    switch (s.do) {
      case 'deliver':
        lines.push(
          `deliver tx${s.tx} ${s.kind} ×${s.copies.length} [${s.copies
            .map(
              (c) =>
                `${c.variant === 'same' ? '' : 'OTHER amount '}${c.abortMs ? `abort@${c.abortMs}ms` : ''}`.trim() ||
                'same',
            )
            .join(', ')}]${s.background ? ' (background)' : ''}`,
        );
        break;
      case 'fault':
        lines.push(
          `fault ${s.fault} on ${s.fault === 'refuse-posts' ? `tx${s.tx}'s invoice` : s.route} ×${s.count} for ${s.steps} step(s)`,
        );
        break;
      case 'operator':
        lines.push(
          `operator ${s.action} tx${s.tx}${['terminate', 'cancel', 'reset'].includes(s.action) ? ` (IC then redelivers its event #${s.redeliver})` : ''}`,
        );
        break;
      case 'worker-kill':
        lines.push(`worker killed, back after ${s.downMs} ms`);
        break;
      case 'pause':
        lines.push(`pause ${s.ms} ms`);
        break;
    }
  }
  return lines.join('\n');
}
