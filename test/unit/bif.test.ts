import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIF_COLUMNS,
  buildInvoiceFile,
  invoiceFileName,
  mapInvoiceToRow,
  type BifDateFormat,
  type BifRejection,
} from '../../integrations/bif';
import {
  ImtInvoicePageSchema,
  ImtListedInvoiceSchema,
  type ImtListedInvoice,
} from '../../integrations/imt-types';

const FIXTURES = join(__dirname, '..', 'fixtures', 'bif');
/** `UPDATE_GOLDEN=1 npx vitest run test/unit/bif.test.ts` rewrites the golden files (inspect them with `cat -A`). */
const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bif-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function invoice(overrides: Partial<ImtListedInvoice> = {}): ImtListedInvoice {
  return {
    invoice_number: '040620220901',
    invoice_date: '2022-09-01',
    due_date: '2022-10-21',
    amount_due: '50.00',
    past_due: '0.00',
    total_amount: '50.00',
    paid_amount: '0.00',
    invoice_month: '2022-09-01',
    status: 'F',
    customer: '0406',
    customer_detail: {
      customer_id: '0406',
      customer_name: 'Acme Farms, Inc.',
      address: '100 Main St',
      address2: '',
      city: 'Des Moines',
      state: 'IA',
      zip: '50309',
      phone: '515-555-0100',
      email: 'billing@acme.example',
      registration_value: '',
    },
    ...overrides,
  };
}

function detail(overrides: Partial<NonNullable<ImtListedInvoice['customer_detail']>>) {
  return { ...invoice().customer_detail, ...overrides };
}

/** A small cycle exercising every rule of the file; the golden files are its output. */
const SMALL_CYCLE: ImtListedInvoice[] = [
  // 1. plain, comma in the name, a past-due amount
  invoice({ past_due: '50.00', amount_due: '100.00' }),
  // 2. double quotes and an apostrophe in the name, amount without decimals
  invoice({
    invoice_number: '051220220901',
    customer: '0512',
    amount_due: '1234.5',
    past_due: '',
    customer_detail: detail({ customer_id: '0512', customer_name: 'Bob "Bobby" O\'Neil', zip: '50310-1234' }),
  }),
  // 3. `|` in the address
  invoice({
    invoice_number: '077720220901',
    customer: '0777',
    amount_due: '75.25',
    customer_detail: detail({
      customer_id: '0777',
      customer_name: 'Pipe Works LLC',
      address: 'Unit 4 | Rear Bldg',
    }),
  }),
  // 4. CR/LF in address2 (a run of line breaks becomes one space)
  invoice({
    invoice_number: '080020220901',
    customer: '0800',
    amount_due: '10',
    customer_detail: detail({
      customer_id: '0800',
      customer_name: 'Line Break Co',
      address2: 'Attn: Billing\r\n\r\nSuite 200\n',
    }),
  }),
  // 5. unicode names and city
  invoice({
    invoice_number: '090120220901',
    customer: '0901',
    amount_due: '7.5',
    customer_detail: detail({
      customer_id: '0901',
      customer_name: 'José Müller-Łukasiewicz 日本',
      city: 'Señora Ñandú',
      registration_value: 'REG-ÆØÅ',
    }),
  }),
  // 6. missing optional fields; customer_id only on the invoice; past_due null
  invoice({
    invoice_number: '100020220901',
    customer: '1000',
    amount_due: '0.00',
    past_due: null,
    customer_detail: {
      customer_name: '  Minimal Customer  ',
      address: null,
      city: undefined,
      state: null,
      phone: null,
      email: '',
    },
  }),
  // 7. invalid: due_date missing and amount_due not an amount
  invoice({
    invoice_number: '110020220901',
    customer: '1100',
    due_date: null,
    amount_due: 'abc',
    customer_detail: detail({ customer_id: '1100' }),
  }),
  // 8. invalid: impossible invoice_date and a blank customer name
  invoice({
    invoice_number: '120020220901',
    customer: '1200',
    invoice_date: '2022-13-40',
    customer_detail: detail({ customer_id: '1200', customer_name: '   ' }),
  }),
  // 9. a second copy of invoice 1: kept out as a duplicate
  invoice({ amount_due: '999.99' }),
  // 10. past due with a zero current amount... and a thousands-free large amount
  invoice({
    invoice_number: '130020220901',
    customer: '1300',
    amount_due: '10500.00',
    past_due: '12.34',
    customer_detail: detail({ customer_id: '1300', customer_name: 'Big Balance Bank' }),
  }),
];

async function* iterate<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function checkGolden(name: string, actual: Buffer): Promise<void> {
  const goldenPath = join(FIXTURES, name);
  if (UPDATE_GOLDEN) await writeFile(goldenPath, actual);
  const golden = await readFile(goldenPath);
  expect(actual.toString('utf8')).toBe(golden.toString('utf8'));
  expect(actual.equals(golden)).toBe(true);
}

describe('mapInvoiceToRow', () => {
  it('maps an IMT invoice in BIF_COLUMNS order', () => {
    const r = mapInvoiceToRow(invoice({ past_due: '5' }));
    expect(r).toEqual({
      ok: true,
      sanitized: [],
      row: [
        '040620220901',
        '2022-09-01',
        '2022-10-21',
        '50.00',
        '5.00',
        '0406',
        'Acme Farms, Inc.',
        '100 Main St',
        '',
        'Des Moines',
        'IA',
        '50309',
        '515-555-0100',
        'billing@acme.example',
        '',
      ],
    });
    if (r.ok) expect(r.row).toHaveLength(BIF_COLUMNS.length);
  });

  it('formats dates as MM/DD/YYYY on request and ignores a time part', () => {
    const r = mapInvoiceToRow(invoice({ invoice_date: '2022-09-01T00:00:00-05:00' }), {
      dateFormat: 'MM/DD/YYYY',
    });
    expect(r.ok && r.row.slice(1, 3)).toEqual(['09/01/2022', '10/21/2022']);
  });

  it('falls back to `customer` when customer_detail has no customer_id', () => {
    const r = mapInvoiceToRow(invoice({ customer_detail: detail({ customer_id: null }) }));
    expect(r.ok && r.row[5]).toBe('0406');
  });

  it('gives every reason an invoice cannot be filed', () => {
    const r = mapInvoiceToRow({ invoice_number: ' ', customer_detail: null });
    expect(r).toEqual({
      ok: false,
      reasons: [
        'invoice_number is missing',
        'invoice_date is missing',
        'due_date is missing',
        'amount_due is missing',
        'customer_id is missing',
        'customer_name is missing',
      ],
    });
  });

  it.each([
    ['abc', "amount_due 'abc' is not a decimal amount"],
    ['$50.00', "amount_due '$50.00' is not a decimal amount"],
    ['1,234.00', "amount_due '1,234.00' is not a decimal amount"],
    // Credit balances are left out, and the report says why (docs/decisions.md).
    ['-5.00', "amount_due '-5.00' is a credit balance: IC has nothing to collect"],
    ['1.005', "amount_due '1.005' has more than two decimals"],
  ])('rejects amount_due %j', (amount, reason) => {
    expect(mapInvoiceToRow(invoice({ amount_due: amount }))).toEqual({ ok: false, reasons: [reason] });
  });

  it.each([
    ['50', '50.00'],
    ['50.5', '50.50'],
    [' 0050.05 ', '50.05'],
    ['-0.00', '0.00'],
    ['0', '0.00'],
  ])('normalises amount_due %j to %j', (amount, expected) => {
    const r = mapInvoiceToRow(invoice({ amount_due: amount }));
    expect(r.ok && r.row[3]).toBe(expected);
  });

  it.each([
    ['2022-13-40', "invoice_date '2022-13-40' is not a valid date"],
    ['2023-02-29', "invoice_date '2023-02-29' is not a valid date"],
    ['09/01/2022', "invoice_date '09/01/2022' is not a valid date"],
  ])('rejects invoice_date %j', (date, reason) => {
    expect(mapInvoiceToRow(invoice({ invoice_date: date }))).toEqual({ ok: false, reasons: [reason] });
  });

  it('gives a repeated date the same answer in each format (dates are cached per format)', () => {
    const inv = invoice({ invoice_date: '2022-09-01', due_date: '2022-02-30' });
    for (let i = 0; i < 2; i++) {
      const iso = mapInvoiceToRow(inv);
      const us = mapInvoiceToRow(inv, { dateFormat: 'MM/DD/YYYY' });
      expect(iso).toEqual({ ok: false, reasons: ["due_date '2022-02-30' is not a valid date"] });
      expect(us).toEqual(iso);
      const good = { ...inv, due_date: '2022-10-21' };
      const isoRow = mapInvoiceToRow(good);
      expect(isoRow.ok && isoRow.row.slice(1, 3)).toEqual(['2022-09-01', '2022-10-21']);
      const usRow = mapInvoiceToRow(good, { dateFormat: 'MM/DD/YYYY' });
      expect(usRow.ok && usRow.row.slice(1, 3)).toEqual(['09/01/2022', '10/21/2022']);
    }
  });

  it('accepts a leap day', () => {
    expect(mapInvoiceToRow(invoice({ invoice_date: '2024-02-29' })).ok).toBe(true);
  });

  it('rejects a bad past_due instead of writing a wrong figure', () => {
    expect(mapInvoiceToRow(invoice({ past_due: 'n/a' }))).toEqual({
      ok: false,
      reasons: ["past_due 'n/a' is not a decimal amount"],
    });
  });

  it('rejects identifiers that cannot be written unchanged', () => {
    expect(mapInvoiceToRow(invoice({ invoice_number: '12|34' }))).toEqual({
      ok: false,
      reasons: ["invoice_number '12|34' contains '|', a line break or a control character"],
    });
    const r = mapInvoiceToRow(
      invoice({ customer: '04\n06', customer_detail: detail({ customer_id: null }) }),
    );
    expect(r.ok).toBe(false);
  });

  it('rejects an invoice whose two customer ids disagree', () => {
    expect(mapInvoiceToRow(invoice({ customer: '9999' }))).toEqual({
      ok: false,
      reasons: ["customer_detail.customer_id '0406' does not match customer '9999'"],
    });
  });

  it('sanitises free text and names the cleaned fields', () => {
    const r = mapInvoiceToRow(
      invoice({
        customer_detail: detail({
          customer_name: 'A|B',
          address: 'x\r\ny',
          city: '\tTabbed\t',
          email: 'nul\u0000@x.example',
          phone: '  515  ',
        }),
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.row[6]).toBe('A/B');
    expect(r.row[7]).toBe('x y');
    expect(r.row[9]).toBe('Tabbed');
    expect(r.row[13]).toBe('nul@x.example');
    expect(r.row[12]).toBe('515');
    // Trimming alone is not worth a warning.
    expect(r.sanitized).toEqual(['customer_name', 'address', 'email']);
  });

  it('never lets |, CR or LF through in any field', () => {
    const nasty = 'a|b\rc\nd\r\n|e\u2028f';
    const r = mapInvoiceToRow(
      invoice({
        customer_detail: detail({
          customer_name: nasty,
          address: nasty,
          address2: nasty,
          city: nasty,
          state: nasty,
          zip: nasty,
          phone: nasty,
          email: nasty,
          registration_value: nasty,
        }),
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (const value of r.row) expect(value).not.toMatch(/[|\r\n]/);
    expect(r.row[6]).toBe('a/b c d /e f');
  });
});

describe('IMT listing schemas', () => {
  it('let an invoice with missing or null fields through to the file builder', () => {
    const page = ImtInvoicePageSchema.parse({
      count: 2,
      next: null,
      previous: null,
      results: [
        { invoice_number: '1', amount_due: 50.5, customer: 406, customer_detail: null, extra: 'dropped' },
        { invoice_number: null },
      ],
    });
    expect(page.results[0]).toEqual({
      invoice_number: '1',
      amount_due: '50.5',
      customer: '406',
      customer_detail: null,
    });
    expect(mapInvoiceToRow(page.results[1]).ok).toBe(false);
  });

  it('keeps leading zeros of string identifiers', () => {
    expect(ImtListedInvoiceSchema.parse({ invoice_number: '00123' }).invoice_number).toBe('00123');
  });
});

describe('buildInvoiceFile', () => {
  async function buildSmall(dateFormat?: BifDateFormat) {
    const filePath = join(dir, `small-${dateFormat ?? 'default'}.txt`.replace(/\//g, '-'));
    const progress: number[] = [];
    const result = await buildInvoiceFile({
      invoices: iterate(SMALL_CYCLE),
      filePath,
      dateFormat,
      onProgress: (n) => progress.push(n),
    });
    return { result, filePath, progress, bytes: await readFile(filePath) };
  }

  it('writes the small cycle byte for byte (golden, YYYY-MM-DD)', async () => {
    const { result, filePath, bytes, progress } = await buildSmall();
    await checkGolden('small-cycle.txt', bytes);

    const text = bytes.toString('utf8');
    expect(text.startsWith(`${BIF_COLUMNS.join('|')}\r\n`)).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    // Exactly one CR/LF per row and 14 separators per row: nothing leaked or got quoted.
    const lines = text.split('\r\n').slice(0, -1);
    expect(lines).toHaveLength(1 + 7);
    for (const line of lines) {
      expect(line).not.toMatch(/[\r\n]/);
      expect(line.split('|')).toHaveLength(BIF_COLUMNS.length);
    }
    expect(text).toContain('|Bob "Bobby" O\'Neil|');
    expect(bytes[0]).not.toBe(0xef); // no BOM

    expect(result).toMatchObject({
      filePath,
      rejectedPath: `${filePath}.rejected.jsonl`,
      invoiceCount: 7,
      // 100.00 + 1234.50 + 75.25 + 10.00 + 7.50 + 0.00 + 10500.00
      totalAmount: '11927.25',
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      rejectedCount: 3,
      sanitizedCount: 2,
    });
    // Trimming invoice 6's "  Minimal Customer  " alone is not a sanitisation.
    expect(result.sanitizedSample).toEqual([
      { invoice_number: '077720220901', fields: ['address'] },
      { invoice_number: '080020220901', fields: ['address2'] },
    ]);
    expect(progress).toEqual([SMALL_CYCLE.length]);

    const expectedRejections: BifRejection[] = [
      {
        invoice_number: '110020220901',
        customer_id: '1100',
        reasons: ['due_date is missing', "amount_due 'abc' is not a decimal amount"],
      },
      {
        invoice_number: '120020220901',
        customer_id: '1200',
        reasons: ["invoice_date '2022-13-40' is not a valid date", 'customer_name is missing'],
      },
      { invoice_number: '040620220901', customer_id: '0406', reasons: ['duplicate invoice_number'] },
    ];
    expect(result.rejectedSample).toEqual(expectedRejections);
    const report = await readFile(result.rejectedPath, 'utf8');
    expect(
      report
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as BifRejection),
    ).toEqual(expectedRejections);
    // No partial files left behind.
    await expect(access(`${filePath}.partial`)).rejects.toThrow();
  });

  it('writes the small cycle byte for byte (golden, MM/DD/YYYY)', async () => {
    const { bytes, result } = await buildSmall('MM/DD/YYYY');
    await checkGolden('small-cycle.mmddyyyy.txt', bytes);
    expect(bytes.toString('utf8')).toContain('040620220901|09/01/2022|10/21/2022|100.00|50.00|0406|');
    expect(result.totalAmount).toBe('11927.25');
  });

  it('skips invoices already sent and reports the ones a rule says are not billable', async () => {
    const filePath = join(dir, 'follow-up.txt');
    const result = await buildInvoiceFile({
      invoices: iterate([
        invoice(),
        invoice({
          invoice_number: '050020220901',
          customer: '0500',
          customer_detail: detail({ customer_id: '0500' }),
        }),
        invoice({
          invoice_number: '060020220901',
          customer: '0600',
          status: 'D',
          customer_detail: detail({ customer_id: '0600' }),
        }),
      ]),
      filePath,
      alreadySent: new Set(['040620220901']),
      notBillable: (inv) => (inv.status === 'D' ? 'draft' : undefined),
    });
    const rows = (await readFile(filePath, 'utf8')).split('\r\n').slice(1, -1);
    expect(rows.map((r) => r.split('|')[0])).toEqual(['050020220901']);
    expect(result).toMatchObject({
      invoiceCount: 1,
      alreadySentCount: 1,
      notBillableCount: 1,
      rejectedCount: 1,
    });
    expect(result.rejectedSample).toEqual([
      { invoice_number: '060020220901', customer_id: '0600', reasons: ['draft'] },
    ]);
  });

  it('writes the invoice file and its rejects readable by the service user only (0600)', async () => {
    const filePath = join(dir, 'private.txt');
    const result = await buildInvoiceFile({ invoices: iterate([invoice()]), filePath });
    expect((await stat(filePath)).mode & 0o777).toBe(0o600);
    expect((await stat(result.rejectedPath)).mode & 0o777).toBe(0o600);
  });

  it('writes only the header for an empty cycle', async () => {
    const filePath = join(dir, 'empty.txt');
    const result = await buildInvoiceFile({ invoices: iterate([]), filePath });
    expect(await readFile(filePath, 'utf8')).toBe(`${BIF_COLUMNS.join('|')}\r\n`);
    expect(await readFile(result.rejectedPath, 'utf8')).toBe('');
    expect(result).toMatchObject({ invoiceCount: 0, totalAmount: '0.00', rejectedCount: 0 });
  });

  it('leaves no file behind when the invoice source fails', async () => {
    const filePath = join(dir, 'failing.txt');
    async function* failing(): AsyncGenerator<ImtListedInvoice> {
      yield invoice();
      throw new Error('IMT page 2 failed');
    }
    await expect(buildInvoiceFile({ invoices: failing(), filePath })).rejects.toThrow('IMT page 2 failed');
    for (const p of [
      filePath,
      `${filePath}.partial`,
      `${filePath}.rejected.jsonl`,
      `${filePath}.rejected.jsonl.partial`,
    ])
      await expect(access(p)).rejects.toThrow();
  });

  it('streams 100,000 invoices without holding them in memory', { timeout: 120_000 }, async () => {
    // A full GC before each sample makes heapUsed measure what is retained, not garbage.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const N = 100_000;
    async function* generate(): AsyncGenerator<ImtListedInvoice> {
      for (let i = 0; i < N; i += 1) {
        const id = String(i).padStart(6, '0');
        yield invoice({
          invoice_number: `${id}20220901`,
          customer: id,
          amount_due: `${i % 1000}.${String(i % 100).padStart(2, '0')}`,
          // Every 1000th invoice is invalid, to stream the report too.
          due_date: i % 1000 === 999 ? '' : '2022-10-21',
          customer_detail: detail({
            customer_id: id,
            customer_name: `Customer ${id} with a reasonably long name, for realism`,
            address: `${i} Long Street Name Avenue`,
            address2: i % 10 === 0 ? 'Line\r\nBreak' : '',
          }),
        });
      }
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    const filePath = join(dir, 'big.txt');
    const result = await buildInvoiceFile({
      invoices: generate(),
      filePath,
      onProgress: (n) => {
        if (n % 10_000 === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().heapUsed - before);
        }
      },
    });
    expect(peak).toBeLessThan(50 * 1024 * 1024);

    let expectedCents = 0;
    for (let i = 0; i < N; i += 1) if (i % 1000 !== 999) expectedCents += (i % 1000) * 100 + (i % 100);
    expect(result.invoiceCount).toBe(N - 100);
    expect(result.rejectedCount).toBe(100);
    expect(result.rejectedSample).toHaveLength(20);
    expect(result.sanitizedCount).toBe(N / 10);
    expect(result.sanitizedSample).toHaveLength(20);
    expect(result.totalAmount).toBe(
      `${Math.floor(expectedCents / 100)}.${String(expectedCents % 100).padStart(2, '0')}`,
    );
    expect(result.sha256).toBe(await sha256File(filePath));
    const report = await readFile(result.rejectedPath, 'utf8');
    expect(report.trimEnd().split('\n')).toHaveLength(100);
  });
});

describe('invoiceFileName', () => {
  it('names the file after the cycle and the content hash', () => {
    const sha = createHash('sha256').update('x').digest('hex');
    expect(invoiceFileName('2022-09-01', sha)).toBe(`invoices_2022-09-01_${sha.slice(0, 12)}.txt`);
  });
  it('refuses names that would not be safe as a path or a SOAP FileName', () => {
    expect(() => invoiceFileName('../etc', 'a'.repeat(64))).toThrow();
    expect(() => invoiceFileName('2022-09-01', 'not-hex')).toThrow();
  });
});
