/** What both simulators promise on close: a request they still hold is released at once. */
import { AxiosError } from 'axios';
import { expect } from 'vitest';

/** Closes the simulator while `pending` (a request it holds, caught) waits; both must end promptly. */
export async function expectCloseReleases(
  close: () => Promise<void>,
  pending: Promise<unknown>,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  await close();
  expect(Date.now() - started).toBeLessThan(2000);
  expect(await pending).toBeInstanceOf(AxiosError);
}
