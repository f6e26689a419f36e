/** Exit codes of every `warren` command (DESIGN.md). */
export const EXIT = {
  ok: 0,
  /** Invalid input: a file, a flag, a filter. */
  invalid: 1,
  /** Unexpected failure. */
  failure: 2,
  /** The topology conflicts with the live broker. */
  conflict: 3,
  /** The broker (or its management API) is unreachable. */
  unreachable: 4,
} as const;

/** Thrown by a command to end the process with a given code after printing `message`. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}
