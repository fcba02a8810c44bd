/**
 * Secrets in store URLs: the password, and query parameters that carry one
 * (`sentinelPassword=…`, libpq's `password=…`). Logs, errors and `leasehold config` show
 * URLs through maskUrl only, and redaction looks for the secrets urlSecrets finds: both
 * read a URL through splitCredentials, so they agree on where the password is.
 */

/** Whether a URL parameter or setting of this name holds a secret, whatever its spelling. */
export function isSecretName(name: string): boolean {
  // Generous on purpose (a misspelt `sentinelPasword` still counts): masking a harmless
  // value costs nothing, showing a password does.
  return /pas+w|pass|pwd|secret|token|credential/i.test(name);
}

/** The URL with any password and secret parameter replaced by `***`, safe to show. */
export function maskUrl(url: string): string {
  const parts = splitCredentials(url);
  if (parts.userinfo === null) return `${parts.scheme}${maskQuery(parts.rest)}`;
  const user = shownUser(parts.userinfo);
  return `${parts.scheme}${user === null ? '***' : user}@${maskQuery(parts.rest)}`;
}

/**
 * The secrets of a URL as given and percent-decoded: its password and secret parameter
 * values, for redacting text a driver wrote (which may quote either spelling).
 */
export function urlSecrets(url: string): string[] {
  const { userinfo, rest } = splitCredentials(url);
  const password =
    userinfo === null ? '' : shownUser(userinfo) === null ? userinfo : passwordOf(userinfo);
  const params = [...rest.matchAll(QUERY_PARAM)]
    .filter(([, , name = '']) => isSecretName(decodeSafely(name)))
    .map(([, , , value = '']) => value);
  return [password, ...params]
    .flatMap((secret) => [secret, decodeSafely(secret)])
    .filter((secret) => secret !== '');
}

interface UrlParts {
  /** `redis://`, or '' for text that is not a URL. */
  readonly scheme: string;
  /** `user:password`, `user` or `:password`; null without an `@`. */
  readonly userinfo: string | null;
  /** Host, path and query: everything after the credentials. */
  readonly rest: string;
}

/**
 * Credentials end at the LAST `@`. A password may hold any character, raw or
 * percent-encoded: an `@`, `#`, `/` or `?` in it makes URL parsers (WHATWG's included) put
 * part of it in the host, path or fragment, so no delimiter can be trusted to end it. A URL
 * whose query holds an `@` is shown with less than it could be; never with more.
 */
function splitCredentials(url: string): UrlParts {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(url);
  const scheme = match?.[1] ?? '';
  const afterScheme = match?.[2] ?? url;
  // A file path, where an `@` is just a character (`/var/lib/leasehold@web/`).
  const at = /^sqlite:/i.test(scheme) ? -1 : afterScheme.lastIndexOf('@');
  if (at < 0) return { scheme, userinfo: null, rest: afterScheme };
  return { scheme, userinfo: afterScheme.slice(0, at), rest: afterScheme.slice(at + 1) };
}

/**
 * `user:***`, `user` (no password given) or null (hide it all): a user name with a URL
 * delimiter in it, or text that is not a URL, may be part of a password.
 */
function shownUser(userinfo: string): string | null {
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  if (!/^[A-Za-z0-9._~%!$&'()*+,;=-]*$/.test(user)) return null;
  return colon < 0 ? user : `${user}:***`;
}

function passwordOf(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  return colon < 0 ? '' : userinfo.slice(colon + 1);
}

const QUERY_PARAM = /([?&])([^=&#]*)=([^&#]*)/g;

function maskQuery(rest: string): string {
  return rest.replace(QUERY_PARAM, (whole, separator: string, name: string) =>
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
