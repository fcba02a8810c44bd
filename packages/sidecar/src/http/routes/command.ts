import type { CommandStatus } from '../../run/command-backoff.js';
import { NO_STORE } from '../answers.js';
import type { RouteDefinition } from '../route-table.js';

/** `leasehold run` only: its command, for the status page and `leasehold status`. */

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

export const commandRoutes: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/v1/command',
    schema: commandSchema,
    admin: false,
    fastPath: false,
    answer: ({ command }) => ({ statusCode: 200, headers: NO_STORE, body: commandBody(command) }),
    // Each election's job under /v1/elections/{name}/command; unprefixed, the first's.
    perElection: true,
  },
];

/**
 * The command's status; in a plain sidecar (`leasehold serve`), and for an election without
 * a job, `command: null`.
 */
function commandBody(command: (() => CommandStatus) | undefined) {
  if (command === undefined) {
    return { command: null, running: false, restarts: 0, backoffMs: 0, backoffUntil: null };
  }
  const status = command();
  return {
    command: status.command,
    running: status.running,
    restarts: status.restarts,
    backoffMs: status.backoffMs,
    backoffUntil: status.backoffUntil === null ? null : new Date(status.backoffUntil).toISOString(),
  };
}
