import { describe, expect, it } from 'vitest';
import { selectorsOf } from '../helpers/promql';

describe('selectorsOf (test helper: the series an expression reads)', () => {
  it.each([
    ['up', ['up']],
    ['up{job=~"imt-ic-.*|temporal"} == 0', ['up{job=~"imt-ic-.*|temporal"}']],
    [
      'sum by (status) (rate(imt_ic_ingress_answers_total{call="post-payment"}[5m])) * 60',
      ['imt_ic_ingress_answers_total{call="post-payment"}'],
    ],
    [
      'histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_workflow_task_schedule_to_start_latency_bucket[10m]))) > 2000',
      ['temporal_workflow_task_schedule_to_start_latency_bucket'],
    ],
    [
      'absent(temporal_num_pollers{poller_type="workflow_task"}) or sum by (task_queue) (max_over_time(temporal_num_pollers{poller_type=~"a|b"}[5m])) == 0',
      ['temporal_num_pollers{poller_type="workflow_task"}', 'temporal_num_pollers{poller_type=~"a|b"}'],
    ],
    [
      'time() - max(imt_ic_schedule_last_success_timestamp_seconds{schedule="reconcile"}) > 26 * 3600',
      ['imt_ic_schedule_last_success_timestamp_seconds{schedule="reconcile"}'],
    ],
    ['a{x="}{ and b"} and on (k) b', ['a{x="}{ and b"}', 'b']],
  ])('%s', (expr, expected) => {
    expect(selectorsOf(expr)).toEqual(expected);
  });
});
