/**
 * Secrets in store URLs: the password, and query parameters that carry one
 * (`sentinelPassword=…`, libpq's `password=…`). Logs, errors and `leasehold config` show
 * URLs through maskUrl only.
 */

/** Whether a URL parameter or setting of this name holds a secret, whatever its spelling. */
export function isSecretName(name: string): boolean {
  // Generous on purpose (a misspelt `sentinelPasword` still counts): masking a harmless
  // value costs nothing, showing a password does.
  return /pas+w|pass|pwd|secret|token|credential/i.test(name);
}

/** The URL with any password and secret parameter replaced by `***`, safe to show. */
export function maskUrl(url: string): string {
  const masked = maskQuery(url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, '$1***@'));
  // Not a URL we understand, yet it has credentials in it somewhere: hide all of them.
  return masked === url && url.includes('@') && !/^[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*@/i.test(url)
    ? url.replace(/^(.*)@/, '***@')
    : masked;
}

function maskQuery(url: string): string {
  return url.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, separator: string, name: string) =>
    isSecretName(decodeSafely(name)) ? `${separator}${name}=***` : whole,
  );
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
