/**
 * What the runs' histories tell: where the time of a posting went (stages between event
 * timestamps), Temporal actions per payment, and why a history left the happy path. A
 * transaction's run stays open (asleep for a void) after posting: its history up to now is
 * read, and the posting ends where the run completed IC's delivery update.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { percentiles, type Percentiles } from './measure';

export interface Stage {
  name: string;
  ms: Percentiles;
}

export interface ActionCounts {
  workflowStarted: number;
  activitiesScheduled: number;
  signals: number;
  timers: number;
  updates: number;
  childWorkflows: number;
  externalSignals: number;
  /** As the issue counts them: start + activities + signals + timers + updates (+ children, external signals). */
  actions: number;
  /** Informative, not in `actions`: UpsertWorkflowSearchAttributes (Temporal Cloud bills each as an action). */
  upserts: number;
  events: number;
}

export interface ActionsResult {
  sampled: number;
  /** Sampled histories with exactly one posting attempt that succeeded. */
  happyPath: number;
  /** Means over the happy-path histories. */
  happy: ActionCounts;
  /** Means over every sampled history (retries under overload included). */
  all: ActionCounts;
  maxActionsHappy: number;
  maxActionsAll: number;
  /** Failed / timed-out activities and workflow tasks seen in the sample, by kind. */
  departures: Record<string, number>;
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

interface Timeline {
  started?: number;
  wft1Started?: number;
  wft1Completed?: number;
  activityStarted?: number;
  activityCompleted?: number;
  wft2Started?: number;
  /** The run answered the delivery (its `deliver` update completed). */
  answered?: number;
}

/** Milliseconds since the epoch of an event (protobuf Timestamp: seconds as a Long, nanos). */
function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
}

function timelineOf(events: HistoryEvent[]): Timeline {
  const t: Timeline = {};
  let wftStarts = 0;
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) t.started = eventMs(e);
    else if (e.workflowTaskStartedEventAttributes) {
      wftStarts++;
      if (wftStarts === 1) t.wft1Started = eventMs(e);
      else if (t.activityCompleted !== undefined && t.wft2Started === undefined) t.wft2Started = eventMs(e);
    } else if (e.workflowTaskCompletedEventAttributes && t.wft1Completed === undefined)
      t.wft1Completed = eventMs(e);
    else if (e.activityTaskStartedEventAttributes && t.activityStarted === undefined)
      t.activityStarted = eventMs(e);
    else if (e.activityTaskCompletedEventAttributes && t.activityCompleted === undefined)
      t.activityCompleted = eventMs(e);
    else if (e.workflowExecutionUpdateCompletedEventAttributes && t.answered === undefined)
      t.answered = eventMs(e);
  }
  return t;
}

export interface Traced {
  workflowId: string;
  sentAt: number;
  answeredAt?: number;
  postedAt?: number;
  /** 201 = answered once IMT confirmed; a 202 (confirm wait over) answered before the posting. */
  status?: number;
}

export async function stagesOf(client: Client, traced: Traced[], firstStage: string): Promise<Stage[]> {
  const spans: Record<string, number[]> = {};
  const add = (name: string, from?: number, to?: number) => {
    if (from === undefined || to === undefined) return;
    (spans[name] ??= []).push(to - from);
  };
  const names = [
    firstStage,
    'workflow task 1: queue wait',
    'workflow task 1: on the worker',
    'activity: queue wait',
    'activity: running (the IMT call)',
    'workflow task 2: queue wait',
    'workflow task 2 → delivery update completed',
    'update completed → answer (201s only)',
    'total (send → answer; 201s only)',
  ];
  const histories = await Promise.all(
    traced.map(async (t) => ({
      t,
      events: (await client.workflow.getHandle(t.workflowId).fetchHistory()).events ?? [],
    })),
  );
  for (const { t, events } of histories) {
    const tl = timelineOf(events);
    add(names[0], t.sentAt, tl.started);
    add(names[1], tl.started, tl.wft1Started);
    add(names[2], tl.wft1Started, tl.wft1Completed);
    add(names[3], tl.wft1Completed, tl.activityStarted);
    add(names[4], tl.activityStarted, tl.activityCompleted);
    add(names[5], tl.activityCompleted, tl.wft2Started);
    // A 202 was answered before the posting: only 201s time the answer's delivery.
    if (t.status === 201) {
      add(names[6], tl.wft2Started, tl.answered);
      add(names[7], tl.answered, t.answeredAt);
      add(names[8], t.sentAt, t.answeredAt);
    }
  }
  return names.filter((n) => spans[n]).map((name) => ({ name, ms: percentiles(spans[name]) }));
}

function actionCounts(events: HistoryEvent[]): ActionCounts {
  const c: ActionCounts = {
    workflowStarted: 0,
    activitiesScheduled: 0,
    signals: 0,
    timers: 0,
    updates: 0,
    childWorkflows: 0,
    externalSignals: 0,
    actions: 0,
    upserts: 0,
    events: events.length,
  };
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) c.workflowStarted++;
    else if (e.activityTaskScheduledEventAttributes) c.activitiesScheduled++;
    else if (e.workflowExecutionSignaledEventAttributes) c.signals++;
    else if (e.timerStartedEventAttributes) c.timers++;
    else if (e.workflowExecutionUpdateAcceptedEventAttributes) c.updates++;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) c.childWorkflows++;
    else if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) c.externalSignals++;
    else if (e.upsertWorkflowSearchAttributesEventAttributes) c.upserts++;
  }
  c.actions =
    c.workflowStarted +
    c.activitiesScheduled +
    c.signals +
    c.timers +
    c.updates +
    c.childWorkflows +
    c.externalSignals;
  return c;
}

/** Why a history is not a happy-path one (one posting attempt that succeeded), and worker-side hiccups. */
export function departures(events: HistoryEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const failed = e.activityTaskFailedEventAttributes?.failure;
    if (failed)
      out.push(
        `activity failed: ${failed.applicationFailureInfo?.type ?? failed.message?.slice(0, 60) ?? '?'}`,
      );
    else if (e.activityTaskTimedOutEventAttributes) {
      const type = e.activityTaskTimedOutEventAttributes.failure?.timeoutFailureInfo?.timeoutType;
      const names: Record<number, string> = {
        1: 'start-to-close',
        2: 'schedule-to-start',
        3: 'schedule-to-close',
        4: 'heartbeat',
      };
      out.push(`activity timed out (${names[Number(type)] ?? 'unknown'})`);
    } else if (e.workflowTaskTimedOutEventAttributes) out.push('workflow task timed out (no extra action)');
    else if (e.workflowTaskFailedEventAttributes) out.push('workflow task failed (no extra action)');
  }
  return out;
}

function meanCounts(list: ActionCounts[]): ActionCounts {
  const n = Math.max(1, list.length);
  const keys = Object.keys(actionCounts([])) as (keyof ActionCounts)[];
  const out = actionCounts([]);
  for (const k of keys) out[k] = list.reduce((s, c) => s + c[k], 0) / n;
  return out;
}

export async function countActions(client: Client, workflowIds: string[]): Promise<ActionsResult> {
  const happy: ActionCounts[] = [];
  const all: ActionCounts[] = [];
  const reasons: Record<string, number> = {};
  for (const id of workflowIds) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const counts = actionCounts(events);
    all.push(counts);
    const why = departures(events);
    for (const r of why) reasons[r] = (reasons[r] ?? 0) + 1;
    const onePosting = counts.activitiesScheduled === 1 && !why.some((r) => r.startsWith('activity'));
    if (onePosting) happy.push(counts);
  }
  return {
    sampled: workflowIds.length,
    happyPath: happy.length,
    happy: meanCounts(happy),
    all: meanCounts(all),
    maxActionsHappy: Math.max(0, ...happy.map((c) => c.actions)),
    maxActionsAll: Math.max(0, ...all.map((c) => c.actions)),
    departures: reasons,
  };
}
