/**
 * IMT simulator, the invoice side of the partner API: an invoice's detail and bill PDF
 * (design §1) and the month's listing (contracts C1).
 */
import type { FastifyInstance } from 'fastify';
import { billPdfStream } from './bill-pdf';
import { NOT_FOUND } from './hooks';
import { INVALID_PAGE, lastPageOf, pageAnswer } from './paging';
import type { ImtState } from './state';
import { API, type ListPageRequest } from './types';
import { parseListQuery, type ListQuery } from './validation';

type InvoiceParams = { Params: { invoice_number: string } };

export function registerInvoiceRoutes(app: FastifyInstance, state: ImtState): void {
  app.get<InvoiceParams>(`${API}/invoice/:invoice_number/detail`, async (request, reply) => {
    const detail = state.detail(request.params.invoice_number);
    return detail ? detail : reply.code(404).send(NOT_FOUND);
  });

  app.get<InvoiceParams>(`${API}/invoice/:invoice_number/pdf`, async (request, reply) => {
    const detail = state.detail(request.params.invoice_number);
    if (!detail) return reply.code(404).send(NOT_FOUND);
    return reply
      .type('application/pdf')
      .header('Content-Disposition', `inline; filename="${detail.invoice_number}.pdf"`)
      .send(
        billPdfStream(detail, { padToBytes: state.pdfPadding.get(detail.invoice_number) }, (served) =>
          state.servedPdfs.push(served),
        ),
      );
  });
}

/** Generated cycles first, then invoices added for that month; `pageRequests` records each page asked for. */
export function registerListRoute(
  app: FastifyInstance,
  state: ImtState,
  pageRequests: ListPageRequest[],
): void {
  app.get<{ Querystring: ListQuery }>(`${API}/invoices`, async (request, reply) => {
    const parsed = parseListQuery(request.query);
    if ('status' in parsed) return reply.code(parsed.status).send(parsed.body);
    const q = parsed.value;
    pageRequests.push(q);
    const count = state.monthSize(q.invoice_month);
    if (q.page > lastPageOf(count, q.page_size)) return reply.code(404).send(INVALID_PAGE);
    return pageAnswer(
      request,
      `${API}/invoices`,
      { invoice_month: q.invoice_month },
      {
        ...q,
        count,
        results: state.listMonth(q.invoice_month, (q.page - 1) * q.page_size, q.page_size),
      },
    );
  });
}
