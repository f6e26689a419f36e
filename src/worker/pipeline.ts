/**
 * The consume pipeline: small steps of `(ctx, next)`, folded into one
 * function once per consumer (nothing is assembled per message). A step acts
 * before, after or around `next`; failures travel back up as exceptions.
 */
export type Step<C> = (ctx: C, next: () => Promise<void>) => Promise<void>;

export function composeSteps<C>(steps: ReadonlyArray<Step<C>>): (ctx: C) => Promise<void> {
  const run = (index: number, ctx: C): Promise<void> => {
    const step = steps[index];
    if (step === undefined) return Promise.resolve();
    return step(ctx, () => run(index + 1, ctx));
  };
  return (ctx) => run(0, ctx);
}
