/**
 * Seedable, deterministic generator of one billing cycle's invoices, shaped exactly
 * like an item of IMT's invoice listing (contracts C1).
 *
 * Invoice `i` is derived from `seed + i` alone, so a cycle of 100,000 invoices costs
 * no memory until someone asks for an invoice, and the IMT simulator can answer a
 * detail request for one invoice number without building the whole cycle.
 *
 * The data is deliberately awkward, because the export must survive real customer
 * records: commas and double quotes in names, a `|` (the BIF delimiter) in an address,
 * non-ASCII letters, CR/LF inside an address line, missing optional fields, and
 * every `invalidEvery`-th invoice missing a required field.
 */

export interface ImtCustomerDetail {
  customer_id: string;
  customer_name: string;
  address: string | null;
  address2: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
  phone: string | null;
  email: string | null;
  registration_value: string | null;
}

/** One item of `GET /api/integration/invoices` (contracts C1). Required fields are nullable because IMT data is not always complete. */
export interface ImtListedInvoice {
  invoice_number: string;
  invoice_date: string | null;
  due_date: string | null;
  amount_due: string | null;
  past_due: string;
  total_amount: string;
  paid_amount: string;
  invoice_month: string;
  status: string;
  /** IMT sent the bill to the customer (contracts C1: only final and sent invoices are billed). */
  sent: boolean;
  /** When IMT created the invoice: the first days of the month after `invoice_month` (contracts C1). */
  created: string;
  updated: string;
  customer: string;
  customer_detail: ImtCustomerDetail;
}

export interface CycleOptions {
  seed: number;
  /** `YYYY-MM-01` */
  invoiceMonth: string;
  count: number;
  /** Every n-th invoice (1-based: the 50th, 100th, …) misses a required field. Default 50; 0 = none. */
  invalidEvery?: number;
}

export interface InvoiceCycle extends Iterable<ImtListedInvoice> {
  readonly seed: number;
  readonly invoiceMonth: string;
  readonly count: number;
  readonly invalidEvery: number;
  invoiceAt(index: number): ImtListedInvoice;
  /** Index of the invoice with this number in this cycle, or null (no search: the number encodes the index). */
  indexOf(invoiceNumber: string): number | null;
}

/** The required field an invalid invoice lacks, rotating in this order. */
export const INVALID_FIELDS = ['customer_name', 'due_date', 'amount_due', 'invoice_date'] as const;
export type InvalidField = (typeof INVALID_FIELDS)[number];

export const DEFAULT_INVALID_EVERY = 50;
/** The example invoice (`0406` + `20220901`) shows a 4-digit, zero-padded customer number. */
const CUSTOMER_ID_MIN_DIGITS = 4;
/** The design's example: invoiced 2022-09-01, due 2022-10-21. */
const DUE_AFTER_DAYS = 50;
/** The seed's sample invoice of cycle 2022-09-01 was created 2022-10-03: day 3 of the next month. */
export const CREATED_ON_DAY = 3;

/**
 * When IMT creates a cycle's invoices: 16:41:40 US Central on the 3rd of the month after
 * the cycle, as the seed's sample (`invoice_month` 2022-09-01, `created` 2022-10-03T16:41:40-05:00).
 */
export function cycleCreatedAt(invoiceMonth: string): { created: string; updated: string } {
  const [y, m] = invoiceMonth.split('-').map(Number);
  const next = new Date(Date.UTC(y, m, CREATED_ON_DAY)).toISOString().slice(0, 10);
  return { created: `${next}T16:41:40-05:00`, updated: `${next}T16:42:56-05:00` };
}

export function generateCycle(options: CycleOptions): InvoiceCycle {
  const { seed, invoiceMonth, count } = options;
  const invalidEvery = options.invalidEvery ?? DEFAULT_INVALID_EVERY;
  assertCycleOptions(seed, invoiceMonth, count, invalidEvery);
  const monthDigits = invoiceMonth.replace(/-/g, '');
  const dueDate = addDays(invoiceMonth, DUE_AFTER_DAYS);
  const stamps = cycleCreatedAt(invoiceMonth);

  const invoiceAt = (index: number): ImtListedInvoice => {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(`invoice index ${index} is outside 0..${count - 1}`);
    }
    const invoice = buildInvoice(seed, invoiceMonth, monthDigits, dueDate, stamps, index);
    const missing = invalidFieldAt(index, invalidEvery);
    return missing ? withoutField(invoice, missing) : invoice;
  };

  const indexOf = (invoiceNumber: string): number | null => {
    if (!invoiceNumber.endsWith(monthDigits)) return null;
    const customerId = invoiceNumber.slice(0, -monthDigits.length);
    if (!/^\d+$/.test(customerId)) return null;
    const index = Number(customerId) - 1;
    if (index < 0 || index >= count || customerIdFor(index) !== customerId) return null;
    return index;
  };

  return {
    seed,
    invoiceMonth,
    count,
    invalidEvery,
    invoiceAt,
    indexOf,
    *[Symbol.iterator]() {
      for (let i = 0; i < count; i++) yield invoiceAt(i);
    },
  };
}

/** Which required field invoice `index` lacks, or null when it is complete. */
export function invalidFieldAt(index: number, invalidEvery: number): InvalidField | null {
  if (invalidEvery <= 0 || (index + 1) % invalidEvery !== 0) return null;
  const ordinal = (index + 1) / invalidEvery - 1;
  return INVALID_FIELDS[ordinal % INVALID_FIELDS.length];
}

/** Customer numbers are 1-based and zero padded, so index 405 is customer `0406` as in the design's example. */
export function customerIdFor(index: number): string {
  return String(index + 1).padStart(CUSTOMER_ID_MIN_DIGITS, '0');
}

function assertCycleOptions(seed: number, invoiceMonth: string, count: number, invalidEvery: number): void {
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
  if (!isFirstOfMonth(invoiceMonth))
    throw new TypeError(`invoiceMonth must be YYYY-MM-01, got "${invoiceMonth}"`);
  if (!Number.isInteger(count) || count < 0)
    throw new TypeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(invalidEvery) || invalidEvery < 0) {
    throw new TypeError(`invalidEvery must be a non-negative integer, got ${invalidEvery}`);
  }
}

export function isFirstOfMonth(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-01$/.exec(value);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 12;
}

export function addDays(isoDate: string, days: number): string {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function buildInvoice(
  seed: number,
  invoiceMonth: string,
  monthDigits: string,
  dueDate: string,
  stamps: { created: string; updated: string },
  index: number,
): ImtListedInvoice {
  const customerId = customerIdFor(index);
  // The customer is derived from (seed, index) only, so the same customer keeps the
  // same name and address across the cycles of different months.
  const customer = buildCustomer(customerId, mulberry32(hashSeed(seed, index, 0x0c57)));
  const amounts = buildAmounts(mulberry32(hashSeed(seed, index, Number(monthDigits))));
  return {
    invoice_number: customerId + monthDigits,
    invoice_date: invoiceMonth,
    due_date: dueDate,
    amount_due: amounts.amountDue,
    past_due: amounts.pastDue,
    total_amount: amounts.total,
    paid_amount: '0.00',
    invoice_month: invoiceMonth,
    status: 'F',
    sent: true,
    ...stamps,
    customer: customerId,
    customer_detail: customer,
  };
}

function withoutField(invoice: ImtListedInvoice, field: InvalidField): ImtListedInvoice {
  switch (field) {
    case 'customer_name':
      return { ...invoice, customer_detail: { ...invoice.customer_detail, customer_name: '' } };
    case 'due_date':
      return { ...invoice, due_date: null };
    case 'amount_due':
      return { ...invoice, amount_due: null };
    case 'invoice_date':
      return { ...invoice, invoice_date: null };
  }
}

interface Amounts {
  total: string;
  pastDue: string;
  amountDue: string;
}

function buildAmounts(rand: Random): Amounts {
  const totalCents = 2_500 + Math.floor(rand() * 37_500);
  // About one customer in five carries an unpaid balance from an earlier cycle.
  const pastDueCents = rand() < 0.2 ? 1_000 + Math.floor(rand() * 29_000) : 0;
  return {
    total: centsToAmount(totalCents),
    pastDue: centsToAmount(pastDueCents),
    amountDue: centsToAmount(totalCents + pastDueCents),
  };
}

export function centsToAmount(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------
// Customers

// prettier-ignore
const FIRST_NAMES = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
  'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
  'Zoë', 'José', 'Renée', 'Søren', 'Chloé', 'Björn', 'Ngozi', 'Mei', 'Siobhán', 'François',
];

// prettier-ignore
const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Wilson', 'Anderson', 'Taylor', 'Moore', 'Jackson', 'Lee', 'Thompson', 'Harris',
  "O'Brien", 'Ñúñez', 'Müller', 'Nguyễn', 'Van der Berg', 'Smith-Jones', 'Østergaard',
];

/** Names that break naive CSV/pipe handling or ASCII assumptions. */
// Kept apart from AWKWARD_ADDRESSES on purpose: both are data lists that only look alike in shape.
const AWKWARD_NAMES = [
  'Zoë Ñúñez',
  'Müller, Jürgen',
  'Robert "Bobby" Tables',
  'Acme Feed & Seed, Inc.',
  '李小龙',
  "Renée O'Connor-Smith",
  'Smith | Jones Partnership',
];

// prettier-ignore
const STREETS = [
  'Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Pine St', 'Elm St', 'Washington Ave', 'Lake Rd',
  'Hill St', 'Park Pl', 'Grand Ave', 'Ingersoll Ave', 'University Ave', 'Locust St', 'High St',
];

const AWKWARD_ADDRESSES = [
  'Hauptstraße 12',
  '100 Main St | Suite 4',
  "3 Rue de l'Église",
  '12 "The Oaks" Rd',
  'PO Box 123, Station A',
];

const PLACES: readonly [city: string, state: string, zip: string][] = [
  ['Des Moines', 'IA', '50309'],
  ['Ames', 'IA', '50010'],
  ['Cedar Rapids', 'IA', '52401'],
  ['Davenport', 'IA', '52801'],
  ['Sioux City', 'IA', '51101'],
  ['Iowa City', 'IA', '52240'],
  ['Waterloo', 'IA', '50701'],
  ['Dubuque', 'IA', '52001'],
  ['Council Bluffs', 'IA', '51501'],
  ['Omaha', 'NE', '68102'],
  ['Springfield', 'IL', '62701'],
  ['Minneapolis', 'MN', '55401'],
  ['Kansas City', 'MO', '64105'],
];

function buildCustomer(customerId: string, rand: Random): ImtCustomerDetail {
  const first = pick(rand, FIRST_NAMES);
  const last = pick(rand, LAST_NAMES);
  const [city, state, zip] = pick(rand, PLACES);
  return {
    customer_id: customerId,
    customer_name: customerName(rand, first, last),
    address: streetAddress(rand),
    address2: secondAddressLine(rand),
    city: rand() < 0.03 ? null : city,
    state: rand() < 0.03 ? null : state,
    zip: zipCode(rand, zip),
    phone: phoneNumber(rand),
    email: emailAddress(rand, first, last, customerId),
    registration_value: registrationValue(rand),
  };
}

function customerName(rand: Random, first: string, last: string): string {
  const r = rand();
  if (r < 0.05) return pick(rand, AWKWARD_NAMES);
  if (r < 0.12) return `${last}, ${first}`;
  if (r < 0.15) return `${first} "${pick(rand, ['Bud', 'Sis', 'Doc', 'Red'])}" ${last}`;
  return `${first} ${last}`;
}

function streetAddress(rand: Random): string | null {
  const r = rand();
  if (r < 0.02) return null;
  if (r < 0.04) return '';
  if (r < 0.1) return pick(rand, AWKWARD_ADDRESSES);
  return `${1 + Math.floor(rand() * 9_899)} ${pick(rand, STREETS)}`;
}

function secondAddressLine(rand: Random): string | null {
  const r = rand();
  if (r < 0.03) return 'Attn: Billing\r\nFloor 2';
  if (r < 0.04) return 'c/o Jane Doe\nRoom 5';
  if (r < 0.14) return null;
  if (r < 0.3) return `${pick(rand, ['Apt', 'Suite', 'Unit'])} ${1 + Math.floor(rand() * 400)}`;
  return '';
}

function zipCode(rand: Random, zip: string): string | null {
  const r = rand();
  if (r < 0.03) return null;
  if (r < 0.2) return `${zip}-${String(Math.floor(rand() * 10_000)).padStart(4, '0')}`;
  return zip;
}

function phoneNumber(rand: Random): string | null {
  const r = rand();
  if (r < 0.05) return null;
  if (r < 0.1) return '';
  const line = String(Math.floor(rand() * 100)).padStart(2, '0');
  if (r < 0.15) return `515.555.01${line} ext. 12`;
  return `(515) 555-01${line}`;
}

function emailAddress(rand: Random, first: string, last: string, customerId: string): string | null {
  const r = rand();
  if (r < 0.05) return null;
  if (r < 0.12) return '';
  const local = `${asciiLetters(first)}.${asciiLetters(last)}`;
  return local.length > 1 ? `${local}@example.com` : `customer${customerId}@example.net`;
}

function registrationValue(rand: Random): string | null {
  const r = rand();
  if (r < 0.1) return null;
  if (r < 0.3) return `REG-${String(Math.floor(rand() * 1_000_000)).padStart(6, '0')}`;
  return '';
}

function asciiLetters(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

// ---------------------------------------------------------------------------
// PRNG

type Random = () => number;

function pick<T>(rand: Random, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

/** Mixes the seed, the index and a salt into one 32-bit state (murmur3 finaliser), so neighbouring indices differ. */
function hashSeed(seed: number, index: number, salt: number): number {
  let h =
    Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ Math.imul(salt, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Small, fast, good-enough PRNG for test data (not for anything secret). */
function mulberry32(state: number): Random {
  let a = state;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
