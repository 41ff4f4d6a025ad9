import { isStoreUrl, redactStoreUrl, secretsInLocation } from "../store/location.ts";

/**
 * The last net under every message: a store location given with a password (`--state
 * postgres://user:pass@…` or ROLLGATE_STATE) is never printed, whichever message quotes it (an
 * error naming the store, serve's banner, token's confirmation, a --json field). Everything this
 * process writes to its standard output and error is scrubbed of the location as given (shown as
 * redactStoreUrl shows it) and of the password itself, raw and decoded (shown as ***). Messages
 * that know better show the redacted form themselves; this catches the ones that do not.
 */
export function secretsOf(argv: readonly string[], env: NodeJS.ProcessEnv): Array<[string, string]> {
  const locations: string[] = [];
  if (env.ROLLGATE_STATE) locations.push(env.ROLLGATE_STATE);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--state" && argv[i + 1] !== undefined) locations.push(argv[i + 1]!);
    else if (a.startsWith("--state=")) locations.push(a.slice("--state=".length));
  }
  const pairs: Array<[string, string]> = [];
  for (const location of locations) {
    if (!isStoreUrl(location)) continue;
    const shown = redactStoreUrl(location);
    if (shown === location) continue;
    pairs.push([location, shown]);
    const json = JSON.stringify(location).slice(1, -1);
    if (json !== location) pairs.push([json, shown]);
    for (const secret of passwordsIn(location)) pairs.push([secret, "***"]);
  }
  // the longest first: a location before the password inside it
  return pairs.sort((a, b) => b[0].length - a[0].length);
}

/** The secrets of a location, raw and decoded; one or two characters are not looked for (they would mangle every message). */
function passwordsIn(location: string): string[] {
  const out = new Set<string>();
  for (const raw of secretsInLocation(location))
    for (const v of [raw, safeDecode(raw)]) if (v.length >= 3) out.add(v);
  return [...out];
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function scrubText(text: string, pairs: ReadonlyArray<[string, string]>): string {
  let t = text;
  for (const [secret, shown] of pairs) if (t.includes(secret)) t = t.split(secret).join(shown);
  return t;
}

/** Scrubs everything written to stdout and stderr from now on (see secretsOf). */
export function installSecretNet(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const pairs = secretsOf(argv, env);
  if (pairs.length === 0) return;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text =
        typeof chunk === "string"
          ? chunk
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk).toString("utf8")
            : undefined;
      return write(text === undefined ? chunk : scrubText(text, pairs), ...rest);
    }) as typeof stream.write;
  }
}
