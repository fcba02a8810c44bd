import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The command-line tools that check deployment files, and the Debian package each comes
 * from. scripts/services.sh installs them; a test never installs anything itself, and a
 * missing tool fails it (never skips it) with the command that installs it.
 */
const PACKAGE_OF = {
  kubectl: 'kubernetes-client',
  'systemd-analyze': 'systemd',
  promtool: 'prometheus',
  prometheus: 'prometheus',
} as const;

export type Tool = keyof typeof PACKAGE_OF;

/** The tool's path on PATH, or an error naming how to install it. */
export function requireTool(tool: Tool): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(
    `${tool} is not installed: run \`bash scripts/services.sh\` as root ` +
      `(it runs \`apt-get install ${PACKAGE_OF[tool]}\`)`,
  );
}

export interface ToolResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a short-lived tool to completion (bounded by `timeoutMs`). */
export function runTool(
  tool: Tool,
  args: readonly string[],
  options: { cwd?: string; input?: string; timeoutMs?: number } = {},
): ToolResult {
  const result = spawnSync(requireTool(tool), args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
  });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `label`'s output as a failure message, so an assertion on the exit code shows why. */
export function explain(label: string, result: ToolResult): string {
  return `${label} exited ${String(result.status)}:\n${result.stdout}\n${result.stderr}`.trim();
}
