import type { FastifyInstance } from 'fastify';
import type { CommandStatus } from '../../run/command-backoff.js';
import { NO_STORE } from '../answers.js';

/** `leasehold run` only: its command, for the status page and `leasehold status`. */

export interface CommandRoutesOptions {
  /** Absent in a plain sidecar (`leasehold serve`): the route answers `command: null`. */
  readonly command: (() => CommandStatus) | undefined;
}

const commandSchema = {
  description:
    'leasehold run: its command, whether it runs here, how often it ended by itself, and the backoff sat out before competing again (command null in a plain sidecar)',
  response: {
    200: {
      type: 'object',
      properties: {
        command: { type: ['string', 'null'] },
        running: { type: 'boolean' },
        restarts: { type: 'integer' },
        backoffMs: { type: 'integer' },
        backoffUntil: { type: ['string', 'null'] },
      },
      required: ['command', 'running', 'restarts', 'backoffMs', 'backoffUntil'],
    },
  },
} as const;

export async function commandRoutes(app: FastifyInstance, options: CommandRoutesOptions) {
  app.get('/v1/command', { schema: commandSchema }, async (_request, reply) => {
    reply.headers(NO_STORE);
    if (options.command === undefined) {
      return { command: null, running: false, restarts: 0, backoffMs: 0, backoffUntil: null };
    }
    const status = options.command();
    return {
      command: status.command,
      running: status.running,
      restarts: status.restarts,
      backoffMs: status.backoffMs,
      backoffUntil:
        status.backoffUntil === null ? null : new Date(status.backoffUntil).toISOString(),
    };
  });
}
