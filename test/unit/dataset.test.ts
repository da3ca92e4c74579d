import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  customerIdFor,
  generateCycle,
  invalidFieldAt,
  type ImtListedInvoice,
} from '../../simulators/imt/dataset';

const MONTH = '2022-09-01';
const AMOUNT = /^\d+\.\d{2}$/;

function firstInvoices(count: number, seed = 1): ImtListedInvoice[] {
  const cycle = generateCycle({ seed, invoiceMonth: MONTH, count });
  return Array.from({ length: count }, (_, i) => cycle.invoiceAt(i));
}

/** Collects garbage on demand without needing `--expose-gc` on the test runner. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('generateCycle', () => {
  it('is deterministic for the same seed and differs for another seed', () => {
    const a = firstInvoices(300, 42);
    const b = firstInvoices(300, 42);
    const c = firstInvoices(300, 43);
    expect(a).toEqual(b);
    expect(c.map((i) => i.customer_detail.customer_name)).not.toEqual(
      a.map((i) => i.customer_detail.customer_name),
    );
  });

  it('derives invoice i from the seed and i only (random access equals iteration)', () => {
    const cycle = generateCycle({ seed: 9, invoiceMonth: MONTH, count: 500 });
    const iterated = [...cycle];
    expect(iterated).toHaveLength(500);
    expect(cycle.invoiceAt(321)).toEqual(iterated[321]);
  });

  it('shapes invoices like the C1 list item and the design example', () => {
    const invoice = generateCycle({ seed: 1, invoiceMonth: MONTH, count: 1000 }).invoiceAt(405);
    expect(Object.keys(invoice).sort()).toEqual(
      [
        'amount_due',
        'customer',
        'customer_detail',
        'due_date',
        'invoice_date',
        'invoice_month',
        'invoice_number',
        'paid_amount',
        'past_due',
        'status',
        'sent',
        'created',
        'updated',
        'total_amount',
      ].sort(),
    );
    expect(Object.keys(invoice.customer_detail).sort()).toEqual(
      [
        'address',
        'address2',
        'city',
        'customer_id',
        'customer_name',
        'email',
        'phone',
        'registration_value',
        'state',
        'zip',
      ].sort(),
    );
    expect(invoice).toMatchObject({
      invoice_number: '040620220901',
      customer: '0406',
      invoice_date: '2022-09-01',
      due_date: '2022-10-21',
      invoice_month: '2022-09-01',
      paid_amount: '0.00',
      status: 'F',
      sent: true,
      // The seed's sample: created on the 3rd of the month after its cycle.
      created: '2022-10-03T16:41:40-05:00',
    });
    expect(invoice.customer_detail.customer_id).toBe('0406');
    expect(invoice.amount_due).toMatch(AMOUNT);
    expect(invoice.past_due).toMatch(AMOUNT);
    expect(invoice.total_amount).toMatch(AMOUNT);
  });

  it('gives unique, zero-padded customer numbers and non-zero past due to some invoices', () => {
    const invoices = firstInvoices(2000);
    expect(new Set(invoices.map((i) => i.invoice_number)).size).toBe(2000);
    expect(invoices[0].customer).toBe('0001');
    expect(customerIdFor(12_344)).toBe('12345');
    expect(invoices.some((i) => i.past_due !== '0.00')).toBe(true);
    expect(invoices.some((i) => i.past_due === '0.00')).toBe(true);
  });

  it('keeps a customer the same across months while amounts change', () => {
    const sept = generateCycle({ seed: 5, invoiceMonth: '2022-09-01', count: 10 }).invoiceAt(3);
    const oct = generateCycle({ seed: 5, invoiceMonth: '2022-10-01', count: 10 }).invoiceAt(3);
    expect(oct.customer_detail).toEqual(sept.customer_detail);
    expect(oct.invoice_number).toBe('000420221001');
    expect(oct.due_date).toBe('2022-11-20');
  });

  it('finds an invoice index from its number without scanning', () => {
    const cycle = generateCycle({ seed: 1, invoiceMonth: MONTH, count: 500 });
    expect(cycle.indexOf('040620220901')).toBe(405);
    expect(cycle.indexOf('050120220901')).toBeNull(); // customer 501 is beyond count
    expect(cycle.indexOf('40620220901')).toBeNull(); // not zero padded
    expect(cycle.indexOf('040620221001')).toBeNull(); // other month
    expect(() => cycle.invoiceAt(500)).toThrow(RangeError);
  });

  it('rejects bad options', () => {
    expect(() => generateCycle({ seed: 1, invoiceMonth: '2022-09-02', count: 1 })).toThrow(/YYYY-MM-01/);
    expect(() => generateCycle({ seed: 1, invoiceMonth: MONTH, count: -1 })).toThrow(/count/);
  });
});

describe('invalid invoices', () => {
  it('makes every 50th invoice miss a required field, rotating the field', () => {
    const cycle = generateCycle({ seed: 1, invoiceMonth: MONTH, count: 1000 });
    expect(cycle.invoiceAt(49).customer_detail.customer_name).toBe('');
    expect(cycle.invoiceAt(99).due_date).toBeNull();
    expect(cycle.invoiceAt(149).amount_due).toBeNull();
    expect(cycle.invoiceAt(199).invoice_date).toBeNull();
    expect(cycle.invoiceAt(249).customer_detail.customer_name).toBe('');

    const invalid = [...cycle].flatMap((inv, i) => (isMissingRequired(inv) ? [i] : []));
    expect(invalid).toEqual(Array.from({ length: 20 }, (_, k) => 50 * (k + 1) - 1));
  });

  it('honours invalidEvery, including 0 for none', () => {
    const none = generateCycle({ seed: 1, invoiceMonth: MONTH, count: 500, invalidEvery: 0 });
    expect([...none].some(isMissingRequired)).toBe(false);
    const often = generateCycle({ seed: 1, invoiceMonth: MONTH, count: 40, invalidEvery: 10 });
    expect([...often].flatMap((inv, i) => (isMissingRequired(inv) ? [i] : []))).toEqual([9, 19, 29, 39]);
    expect(invalidFieldAt(39, 10)).toBe('invoice_date');
  });
});

function isMissingRequired(inv: ImtListedInvoice): boolean {
  return (
    inv.invoice_date === null ||
    inv.due_date === null ||
    inv.amount_due === null ||
    inv.customer_detail.customer_name.trim() === ''
  );
}

describe('awkward values', () => {
  const invoices = firstInvoices(2000);
  const details = invoices.map((i) => i.customer_detail);
  const allText = (pick: (d: ImtListedInvoice['customer_detail']) => string | null): string[] =>
    details.map(pick).filter((v): v is string => typeof v === 'string');

  it('includes commas, double quotes and non-ASCII letters in names', () => {
    const names = allText((d) => d.customer_name);
    expect(names.some((n) => n.includes(','))).toBe(true);
    expect(names.some((n) => n.includes('"'))).toBe(true);
    expect(names.some((n) => /[^ -~]/.test(n))).toBe(true);
    expect(names).toContain('Zoë Ñúñez');
  });

  it('includes a pipe and "Straße" in addresses and CR/LF in address2', () => {
    const addresses = allText((d) => d.address);
    expect(addresses.some((a) => a.includes('|'))).toBe(true);
    expect(addresses.some((a) => a.includes('Straße') || a.includes('straße'))).toBe(true);
    expect(allText((d) => d.address2).some((a) => a.includes('\r\n'))).toBe(true);
  });

  it('leaves optional fields missing as null or empty string', () => {
    for (const field of ['address', 'address2', 'phone', 'email', 'registration_value'] as const) {
      expect(details.some((d) => d[field] === null)).toBe(true);
      expect(details.some((d) => d[field] === '')).toBe(true);
    }
  });
});

describe('scale', () => {
  it('iterates 100,000 invoices with flat memory', () => {
    const gc = exposeGc();
    const cycle = generateCycle({ seed: 3, invoiceMonth: MONTH, count: 100_000 });
    const samples: number[] = [];
    let count = 0;
    let outOfOrder = 0;
    let lastNumber = '';
    gc();
    samples.push(process.memoryUsage().heapUsed);
    for (const invoice of cycle) {
      count++;
      if (Number(invoice.customer) !== count) outOfOrder++;
      lastNumber = invoice.invoice_number;
      if (count % 20_000 === 0) {
        gc();
        samples.push(process.memoryUsage().heapUsed);
      }
    }
    expect(count).toBe(100_000);
    expect(outOfOrder).toBe(0);
    expect(lastNumber).toBe('10000020220901');
    const growthMb = (Math.max(...samples) - samples[0]) / 1_000_000;
    expect(growthMb).toBeLessThan(10);
  }, 30_000);
});
