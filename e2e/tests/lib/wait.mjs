// Waiting helpers shared by every e2e suite: each wait has a deadline and says what it
// waited for, so a hang fails fast with a clear message.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with "timed out after N ms waiting for WHAT" unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
