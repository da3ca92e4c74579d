/**
 * Calls to Invoice Cloud from workflows, shared by the export and the adjustment runs.
 *
 * IC refusing our BillerGUID / WebServiceKey (`AuthRejected`, activities/errors.ts) is not
 * a passing failure: a person must fix the credentials. So the first call treats it as
 * final, the workflow marks itself and alerts once, and then calls again with a policy
 * that retries `AuthRejected` slowly (the failure's `nextRetryDelay`) with no overall
 * limit, so the run resumes by itself once the credentials are fixed. The retries happen
 * inside one activity and cost no history.
 */
import { failureMessageOf, failureTypeOf } from './failures';
import { FailureType } from '../domain';

/**
 * `first` must not retry `AuthRejected` (list it in `nonRetryableErrorTypes`); `patient`
 * must (no schedule-to-close limit). `onAuthRejected` runs once, between the two.
 */
export async function callIcAlertingOnAuth<T>(
  first: () => Promise<T>,
  patient: () => Promise<T>,
  onAuthRejected: (message: string) => Promise<void>,
): Promise<T> {
  try {
    return await first();
  } catch (err) {
    if (failureTypeOf(err) !== FailureType.AuthRejected) throw err;
    await onAuthRejected(failureMessageOf(err));
    return await patient();
  }
}
