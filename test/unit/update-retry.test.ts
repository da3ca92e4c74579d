/** An Update refused because its workflow task failed is sent again; a validator's refusal is not. */
import { describe, expect, it } from 'vitest';
import { withUpdateRetry } from '../../common/update-retry';

describe('withUpdateRetry', () => {
  it('sends again after "unexpected workflow task failure", up to four times', async () => {
    let calls = 0;
    const failed = Object.assign(new Error('Workflow Update failed'), {
      cause: new Error(
        '9 FAILED_PRECONDITION: Unable to perform workflow execution update due to unexpected workflow task failure.',
      ),
    });
    const answer = await withUpdateRetry(async () => {
      calls += 1;
      if (calls < 3) throw failed;
      return 'ok';
    }, 1);
    expect(answer).toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withUpdateRetry(async () => {
        calls += 1;
        throw failed;
      }, 1),
    ).rejects.toBe(failed);
    expect(calls).toBe(4);
  });

  it('never repeats another refusal (a validator said no)', async () => {
    let calls = 0;
    const refused = new Error('transaction T1 is POSTED; only a NEEDS_ATTENTION transaction can be retried');
    await expect(
      withUpdateRetry(async () => {
        calls += 1;
        throw refused;
      }, 1),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });
});
