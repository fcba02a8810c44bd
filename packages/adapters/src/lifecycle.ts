/**
 * A store that checks something before it is handed out (credentials, versions): started,
 * or closed and its error passed on, so a failed start-up leaves no connection behind.
 */
export async function started<T extends { start(): Promise<void>; close(): Promise<void> }>(
  store: T,
): Promise<T> {
  try {
    await store.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
