import type pg from 'pg';

/**
 * One PostgreSQL session's statements, one at a time.
 *
 * The store shares one session between renewals, member heartbeats, releases and every
 * election on the store (advisory locks belong to the session). node-postgres queued
 * statements sent while one was running, and since 8.23 warns that it will stop doing so in
 * pg 9 (a DeprecationWarning on the sidecar's stderr at the first overlap, seen in the
 * benchmark). The queue is here now: same order, same waiting, nothing left to pg's.
 */
export class SerialQueries {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: pg.Client,
    /** Told of every failed statement before its caller is (see openSession). */
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: readonly unknown[],
  ): Promise<pg.QueryResult<Row>> {
    const run = this.tail
      .then(() =>
        values === undefined
          ? this.client.query<Row>(text)
          : this.client.query<Row>(text, [...values]),
      )
      .catch((error: unknown) => {
        this.onError(error);
        throw error;
      });
    // The next statement waits for this one to end, whatever its outcome.
    this.tail = run.catch(() => undefined);
    return run;
  }
}
