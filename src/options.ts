/**
 * The one range check behind every options resolver (worker, stores):
 * a clear `RangeError` naming the option, at construction, not mid-run.
 */
export function requireInteger(name: string, value: number, min: number, max?: number): void {
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${name} must be an integer ${range}, got ${value}`);
  }
}
