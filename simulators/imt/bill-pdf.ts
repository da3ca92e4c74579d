/**
 * The IMT simulator's bill PDFs: a real one-page invoice per invoice, generated with pdfkit
 * (a maintained PDF library; the xref table, fonts and streams are its business, not ours).
 *
 * The document is produced as a stream and piped to the HTTP answer, so the simulator can
 * serve a very large bill without holding it twice. `padToBytes` attaches a file of random
 * bytes (a "scanned enclosure") to reach a size for large-bill tests of the pass-through.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import PDFDocument from 'pdfkit';

export interface BillPdfFields {
  invoice_number: string;
  customer: string;
  invoice_month: string;
  due_date: string | null;
  amount_due: string | null;
  past_due: string;
}

export interface BillPdfOptions {
  /** Attach random bytes so the PDF is at least this big (0 / undefined: a plain bill). */
  padToBytes?: number;
}

/** What was served: the hash and size of the bytes that left the simulator. */
export interface ServedPdf {
  invoiceNumber: string;
  sha256: string;
  bytes: number;
}

/**
 * A readable PDF for one invoice. `onServed` is called with the sha256 and size of every
 * byte produced once the document ends (tests compare it with what arrived).
 */
export function billPdfStream(
  fields: BillPdfFields,
  opts: BillPdfOptions = {},
  onServed?: (served: ServedPdf) => void,
): Readable {
  const padding = opts.padToBytes ?? 0;
  const doc = new PDFDocument({
    size: 'LETTER',
    margin: 72,
    // Random padding does not compress: spare the CPU.
    compress: padding === 0,
    info: { Title: `Invoice ${fields.invoice_number}`, Author: 'IMT Software Services (simulator)' },
  });
  const hash = createHash('sha256');
  let bytes = 0;
  const out = new PassThrough();
  doc.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  doc.on('end', () =>
    onServed?.({ invoiceNumber: fields.invoice_number, sha256: hash.digest('hex'), bytes }),
  );
  doc.on('error', (err: Error) => out.destroy(err));
  doc.pipe(out);

  doc.fontSize(18).text('IMT Software Services — Invoice', { underline: false });
  doc.moveDown();
  doc.fontSize(12);
  const rows: [string, string][] = [
    ['Invoice number', fields.invoice_number],
    ['Customer', fields.customer],
    ['Invoice month', fields.invoice_month],
    ['Due date', fields.due_date ?? '—'],
    ['Amount due', fields.amount_due === null ? '—' : `$${fields.amount_due}`],
    ['Past due', `$${fields.past_due}`],
  ];
  for (const [label, value] of rows) doc.text(`${label}: ${value}`);
  if (padding > 0) {
    doc.moveDown().text('Enclosure: scanned meter readings (attached).');
    doc.file(randomBytes(padding), { name: 'enclosure.bin', type: 'application/octet-stream' });
  }
  doc.end();
  return out;
}
