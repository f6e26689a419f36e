/** A page of the console: its element, and what runs while it is shown (stopped by the signal when the page is left). */
export interface Page {
  title: string;
  nav: 'overview' | 'dlq' | 'job';
  element: HTMLElement;
  start?: (signal: AbortSignal) => void;
}
