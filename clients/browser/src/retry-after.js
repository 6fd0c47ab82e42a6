// Retry-After (RFC 9110, section 10.2.3): either a number of seconds or an HTTP-date.

const DELAY_SECONDS = /^\s*(\d+)\s*$/;
const HTTP_DATE = /^[A-Za-z]{3,9},? .*\d{1,2}:\d{2}:\d{2} (?:GMT|\d{4})$/;

/**
 * Milliseconds to wait according to a `Retry-After` value, or `null` when there is none or it cannot be parsed.
 * A date in the past means "now" (0). `now` is the current time in epoch milliseconds.
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (typeof value !== "string" || value.trim() === "") return null;
  const seconds = DELAY_SECONDS.exec(value);
  if (seconds) return Number(seconds[1]) * 1000;
  // An HTTP-date starts with the weekday and ends with the zone (or, in asctime form, the year):
  // "Sun, 06 Nov 1994 08:49:37 GMT". Date.parse alone would also take "1.5" or "soon 2026" as dates.
  if (!HTTP_DATE.test(value.trim())) return null;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function abortableSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
