import { LeaseholdConfigError } from '@leasehold/core';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  type Stats,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * The SQLite database is the election: whoever can write it, or plant it, decides who
 * leads. So its directory is this user's and closed to everyone else (0700 when leasehold
 * creates it), the files are 0600 whatever the umask, and a directory, database or journal
 * that another user (but root) owns, that group or others can write, or that is a
 * symbolic link, is refused. Once the
 * directory is known to be private, nobody but this user (and root) can put anything in it,
 * so what SQLite opens next is what was checked here.
 */

/** The files SQLite keeps beside the database. */
const COMPANIONS = ['', '-wal', '-shm', '-journal'];

const CLOSED_TO_OTHERS = 0o077;
const WRITABLE_BY_OTHERS = 0o022;

/** `href`: the store URL as messages may show it. */
export function preparePrivateFiles(path: string, href: string): void {
  const directory = dirname(path);
  createDirectory(directory, href);
  checkOwnedAndClosed(directory, 'directory');
  for (const suffix of COMPANIONS) {
    const file = `${path}${suffix}`;
    const stats = checkOwnedAndClosed(file, 'file');
    // Ours and written by nobody else, but perhaps readable (a database from before this
    // check was created 0644): closed now.
    if (stats !== null && (stats.mode & CLOSED_TO_OTHERS) !== 0) chmodSync(file, 0o600);
  }
  createDatabase(path);
}

function createDirectory(directory: string, href: string): void {
  let first: string | undefined;
  try {
    first = mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new LeaseholdConfigError(
      'store',
      href,
      `cannot create the directory ${directory} (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
  if (first === undefined) return;
  // The umask may have taken bits from (or, at 0, left) mkdir's mode: every directory
  // created here gets exactly 0700.
  let created = first;
  chmodSync(created, 0o700);
  for (const part of relative(first, directory)
    .split(sep)
    .filter((p) => p !== '')) {
    created = join(created, part);
    chmodSync(created, 0o700);
  }
}

/** A new database, created 0600 whatever the umask, never through a link. */
function createDatabase(path: string): void {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      0o600,
    );
  } catch {
    // There already (checked above), or not creatable: then SQLite cannot create it either,
    // and says so in the words docs/errors.md lists.
    return;
  }
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/** The path's own metadata (never a link's target), or null if there is nothing there. */
function checkOwnedAndClosed(path: string, kind: 'directory' | 'file'): Stats | null {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw refused(
      path,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if (stats.isSymbolicLink()) {
    throw refused(
      path,
      'is a symbolic link, which leasehold does not follow here; give the real path in the store URL',
    );
  }
  if (kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) {
    throw refused(path, `is not a ${kind}; remove it or choose another path`);
  }
  const me = process.geteuid?.();
  if (me === undefined) return stats; // no POSIX owners (Windows)
  const fix =
    kind === 'directory'
      ? `chown ${me} ${path} && chmod 700 ${path}`
      : `chown ${me} ${path} && chmod 600 ${path}`;
  // Root can change any file anyway: what root owns is as safe as what this user owns.
  if (stats.uid !== me && stats.uid !== 0) {
    throw refused(
      path,
      `belongs to uid ${stats.uid}, not to this user (uid ${me}) or root: that user could change the lease; remove it, or if you trust it: ${fix}`,
    );
  }
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) {
    throw refused(
      path,
      `is writable by ${writers(stats.mode)} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}), who could change the lease; ${fix}`,
    );
  }
  return stats;
}

function writers(mode: number): string {
  const group = (mode & 0o020) !== 0 ? ['its group'] : [];
  return [...group, ...((mode & 0o002) !== 0 ? ['others'] : [])].join(' and ');
}

function refused(path: string, why: string): LeaseholdConfigError {
  return new LeaseholdConfigError('store file', path, why);
}
