/** The two pools' queue names (domain/task-queues.ts) and the configuration rule that keeps them apart. */
import { describe, expect, it } from 'vitest';
import { bulkQueueFrom, paymentsQueueFrom, taskQueueOfPool, taskQueuesOf } from '../../domain';
import { bulkTaskQueue, ConfigError, loadConfig, paymentsTaskQueue } from '../../common/config';

describe('task queues of the two pools', () => {
  it.each([
    ['imt-ic', 'imt-ic', 'imt-ic-bulk'],
    ['acme-prod', 'acme-prod', 'acme-prod-bulk'],
  ])('service queue %s → payments %s, bulk %s', (service, payments, bulk) => {
    expect(taskQueuesOf(service)).toEqual({ payments, bulk });
    expect(taskQueueOfPool(service, 'payments')).toBe(payments);
    expect(taskQueueOfPool(service, 'bulk')).toBe(bulk);
    // A run on either queue finds both.
    for (const current of [payments, bulk]) {
      expect(bulkQueueFrom(current)).toBe(bulk);
      expect(paymentsQueueFrom(current)).toBe(payments);
    }
  });

  it('derives both from TEMPORAL_TASK_QUEUE, default imt-ic (contracts A)', () => {
    const config = loadConfig({});
    expect(paymentsTaskQueue(config)).toBe('imt-ic');
    expect(bulkTaskQueue(config)).toBe('imt-ic-bulk');
    expect(config.temporal.taskQueues).toEqual({ payments: 'imt-ic', bulk: 'imt-ic-bulk' });
  });

  it('refuses a service queue ending in -bulk, naming the variable and why', () => {
    let error: unknown;
    try {
      loadConfig({ TEMPORAL_TASK_QUEUE: 'acme-bulk' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/TEMPORAL_TASK_QUEUE: must not end in "-bulk"/);
  });
});
