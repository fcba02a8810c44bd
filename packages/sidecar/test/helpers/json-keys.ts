/**
 * The keys that occur more than once in one object of a JSON text, at any depth. JSON.parse
 * keeps the last of them silently, and log pipelines keep one or reject the line, so a test
 * of what we log reads the raw text.
 */
export function repeatedKeys(json: string): string[] {
  const repeated: string[] = [];
  // One entry per open object or array; an object's keys so far, and whether a key comes next.
  const open: { keys: Set<string> | null; keyNext: boolean }[] = [];
  let at = 0;
  while (at < json.length) {
    const char = json[at];
    if (char === '"') {
      let end = at + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const inside = open.at(-1);
      if (inside?.keys != null && inside.keyNext) {
        const key = JSON.parse(json.slice(at, end + 1)) as string;
        if (inside.keys.has(key)) repeated.push(key);
        inside.keys.add(key);
        inside.keyNext = false;
      }
      at = end + 1;
      continue;
    }
    if (char === '{') open.push({ keys: new Set(), keyNext: true });
    else if (char === '[') open.push({ keys: null, keyNext: false });
    else if (char === '}' || char === ']') open.pop();
    else if (char === ',') {
      const inside = open.at(-1);
      if (inside?.keys != null) inside.keyNext = true;
    }
    at += 1;
  }
  return repeated;
}
