/**
 * IMT simulator: Django REST Framework's PageNumberPagination, as both IMT listings use it
 * (invoices, contracts C1; payments, contracts C4): 1-based pages, `page_size` ≤ 1000, a page
 * that does not exist answers 404 "Invalid page.", `next`/`previous` are absolute URLs.
 */
import type { FastifyRequest } from 'fastify';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const INVALID_PAGE = { detail: 'Invalid page.' };

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** The last page of `count` items (1 when there are none: an empty first page exists). */
export function lastPageOf(count: number, pageSize: number): number {
  return Math.max(1, Math.ceil(count / pageSize));
}

/** One page's answer; `query` is the rest of the query string, kept in `next` and `previous`. */
export function pageAnswer<T>(
  request: FastifyRequest,
  path: string,
  query: Record<string, string>,
  at: { page: number; page_size: number; count: number; results: T[] },
): Page<T> {
  const lastPage = lastPageOf(at.count, at.page_size);
  const pageUrl = (page: number): string =>
    `${request.protocol}://${request.host}${path}?` +
    new URLSearchParams({ ...query, page: String(page), page_size: String(at.page_size) });
  return {
    count: at.count,
    next: at.page < lastPage ? pageUrl(at.page + 1) : null,
    previous: at.page > 1 ? pageUrl(at.page - 1) : null,
    results: at.results,
  };
}
