/**
 * Wait for `work` to settle, but no longer than `ms`; never rejects. For the waits an
 * adapter may cut short (a first connection, QUIT or Terminate on a stalled server, a
 * SUBSCRIBE queued while the server is down): the operation goes on or is torn down by its
 * caller, only the waiting stops. The timer holds no process open: what is awaited does.
 */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([work.then(noop, noop), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}
