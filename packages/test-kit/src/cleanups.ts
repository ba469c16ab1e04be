/** A test's undo steps, in the order they were registered; run by {@link runCleanups}. */
export type Cleanups = (() => Promise<unknown>)[];

/**
 * Runs and empties `cleanups`, last registered first. A failing step fails the run,
 * unless `ignoreErrors` is set (then every step runs whatever the others did).
 */
export async function runCleanups(
  cleanups: Cleanups,
  options: { readonly ignoreErrors?: boolean } = {},
): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    if (options.ignoreErrors === true) await cleanup().catch(() => {});
    else await cleanup();
  }
}
