/**
 * etcd's gRPC client names the server in TLS by the host of the `etcds://` URL, an IP
 * address included, and Node then prints DEP0123 ("Setting the TLS ServerName to an IP
 * address is not permitted by RFC 6066") to a user who did nothing wrong: the certificate
 * is still checked against that IP address, and the client has no option to leave the
 * server name out. The sidecar, which owns its process, drops that one warning; every
 * other warning still prints. Not done in @leasehold/adapters: a library does not change
 * how its host process reports warnings.
 */
export function dropIpServernameWarning(): void {
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (warningCode(rest) === 'DEP0123') return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** The code of `emitWarning(warning, type, code)` or `emitWarning(warning, {code})`. */
function warningCode(rest: readonly unknown[]): unknown {
  const [first, second] = rest;
  if (typeof first === 'object' && first !== null) return (first as { code?: unknown }).code;
  return second;
}
