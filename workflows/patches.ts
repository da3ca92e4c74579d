/**
 * The registry of patch IDs (`patched()` / `deprecatePatch()`), one place for every workflow.
 * Release 1.0 starts with none: no run of older code exists.
 *
 * Lifecycle of a patch (docs/decisions.md, "Release 1.0 and the patch policy"):
 * 1. `patched(ID)` guards the new branch; the old branch stays; a replay history of the new
 *    shape is recorded next to the 1.0 ones.
 * 2. Once `imt-ic patches` shows no open run without the marker, the old branch goes and the
 *    call becomes `deprecatePatch(ID)` (state `deprecated`).
 * 3. Once no open run carries the marker at all, the call and this entry go (`removed`).
 */
export type PatchState = 'patched' | 'deprecated';

export interface RegisteredPatch {
  /** The ID given to patched() / deprecatePatch(), and recorded in TemporalChangeVersion. */
  id: string;
  /** The workflow type whose code holds the branch. */
  workflowType: string;
  state: PatchState;
  /** What changed, and why old runs needed the old branch. */
  why: string;
}

export const PATCHES: readonly RegisteredPatch[] = [];
