import { ReleasedError } from './errors.ts';

/** Resolves after `ms`, or rejects with `ReleasedError` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ReleasedError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ReleasedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
