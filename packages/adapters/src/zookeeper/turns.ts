/**
 * One call at a time per candidate. The elector stops waiting for a slow acquire and asks
 * again with a new token while the first one still runs (core's store-calls.ts), and a lease
 * it gave up on is released while the next acquire runs. All of them read and change the
 * same candidacy (its znode, its token, its timer); run side by side, a late call could
 * grant over the next one's lease or queue a znode that no candidacy owns, ahead of the
 * candidate's own (the election then has a leader nobody is). In turns, each call finds the
 * candidacy as the previous one left it.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `work` once every earlier call for `key` has ended (answered or failed). */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
