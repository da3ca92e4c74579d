/**
 * `imt-ic patches`: for every registered patch (workflows/patches.ts), how many open runs of
 * its workflow type carry its marker (TemporalChangeVersion) and how many do not — so a
 * person knows when an old branch can be deleted (none without the marker) and when the
 * deprecated call can go (none with it).
 */
import type { Command } from 'commander';
import { PATCHES, type RegisteredPatch } from '../../workflows/patches';
import { commandAction, type CommandContext, type GetContext } from './context';
import { commandIo } from './format';

export interface PatchCount {
  id: string;
  workflow_type: string;
  state: string;
  open_with_marker: number;
  open_without_marker: number;
}

const quote = (v: string) => `'${v.replace(/'/g, "\\'")}'`;

export async function countPatch(ctx: CommandContext, patch: RegisteredPatch): Promise<PatchCount> {
  const open = `WorkflowType = ${quote(patch.workflowType)} AND ExecutionStatus = 'Running'`;
  const all = await ctx.client.workflow.count(open);
  const marked = await ctx.client.workflow.count(`${open} AND TemporalChangeVersion = ${quote(patch.id)}`);
  return {
    id: patch.id,
    workflow_type: patch.workflowType,
    state: patch.state,
    open_with_marker: marked.count,
    open_without_marker: all.count - marked.count,
  };
}

export function registerPatchCommands(program: Command, getContext: GetContext): void {
  program
    .command('patches')
    .description('open runs per registered patch: when an old branch (or a deprecated patch) can go')
    .option('--json', 'print JSON')
    .action(
      commandAction(async (opts: { json?: boolean }, cmd: Command) => {
        const io = commandIo(cmd);
        const ctx = await getContext();
        const counts = await Promise.all(PATCHES.map((p) => countPatch(ctx, p)));
        if (opts.json) return io.out(`${JSON.stringify(counts, null, 2)}\n`);
        if (counts.length === 0)
          return io.out('No registered patches (release 1.0: no run of older code exists).\n');
        for (const c of counts)
          io.out(
            `${c.id} (${c.workflow_type}, ${c.state}): ${c.open_without_marker} open runs without the marker, ${c.open_with_marker} with it\n`,
          );
      }),
    );
}
