/**
 * Alerts (workflows/alerts.ts): delivered by their own runs, so that a webhook that is
 * down never holds up the run that raised the alert.
 */

export interface RaisedAlert {
  /** Unique per occasion, e.g. `payment-T1:NEEDS_ATTENTION:1`; a repeat of a key is a no-op. */
  key: string;
  title: string;
  text: string;
  /** The run the alert is about (its Temporal UI page is linked). */
  aboutWorkflowId?: string;
}

export interface AlertDeliveryInput extends RaisedAlert {
  /** Alerts of one group from many runs are summarised (e.g. `imt-auth-rejected`). */
  group?: string;
}

export interface AlertDigestInput {
  group: string;
  /** How long one incident's window lasts (default 10 minutes). */
  windowMs?: number;
}

/** Alert groups: many runs hitting the same cause produce a few alerts and one summary. */
export const AlertGroup = {
  ImtAuthRejected: 'imt-auth-rejected',
} as const;

// ---------------------------------------------------------------------------
