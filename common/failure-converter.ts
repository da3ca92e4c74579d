/**
 * The failure converter of every worker and client (common/data-protection.ts): a failure's
 * message and stack trace travel as an encoded payload, so the payload codec encrypts them
 * like any other payload. Without it, Temporal's history would hold IMT's error texts in clear
 * (they can quote customer names and amounts). The worker loads this module by path (the SDK
 * requires it, also inside the workflow bundle), so it imports only @temporalio/common.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
