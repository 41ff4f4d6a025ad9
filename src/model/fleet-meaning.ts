import { addressKey, isIPAddress } from "./address.ts";
import { MAX_DURATION_SECONDS, parseDuration } from "./duration.ts";
import { checkSuperclusters } from "./fleet-meaning-dma.ts";
import { oneOf } from "./fleet-names.ts";
import type { Path, Reporter } from "./fleet-reporter.ts";
import { webhookUrlProblem } from "./notify.ts";
import type { FleetFile, FleetFileCluster, FleetFileCompatibility } from "./fleet-schema.ts";
import { isVersionString } from "./version.ts";

/**
 * Step 4 of the pipeline (docs/architecture.md): the checks of meaning on the typed document
 * (unique names, references, D1, addresses, durations, versions). Every finding is reported; the
 * order of the reports is the order of the file's clusters, then of its superclusters.
 */
export function checkMeaning(rep: Reporter, f: FleetFile): void {
  if (f.defaults?.maxMixedWindow !== undefined)
    checkDuration(rep, ["defaults", "maxMixedWindow"], f.defaults.maxMixedWindow);
  const clusterIndex = new Map<string, number>();
  const serverOwner = new Map<string, string>();
  for (const [ci, c] of f.clusters.entries()) checkCluster(rep, c, ci, clusterIndex, serverOwner);
  checkCompatibility(rep, ["defaults", "compatibility"], f.defaults?.compatibility);
  checkSuperclusters(rep, f, clusterIndex);
  checkWebhooks(rep, f);
}

/**
 * The `notify:` section's webhooks: an http: or https: URL, without credentials (a password in a
 * file kept in version control; the signature's secret is named by `secretEnv`, never written).
 */
function checkWebhooks(rep: Reporter, f: FleetFile): void {
  for (const [i, w] of (f.notify ?? []).entries()) {
    const path = ["notify", i, "url"] as const;
    const problem = webhookUrlProblem(w.url);
    if (!problem) continue;
    if (problem.code === "credentials")
      rep.add(
        "ROLLGATE_E_FLEET_URL_CREDENTIALS",
        path,
        `the webhook URL ${maskUrlCredentials(w.url)} ${problem.message}: a fleet file is no place for a password`,
        "a URL without user or password; to let the receiver check that a delivery is rollgate's, name a secret with secretEnv (an HMAC signature)",
      );
    else
      rep.add(
        "ROLLGATE_E_FLEET_WEBHOOK_URL",
        path,
        problem.code === "length"
          ? `the webhook URL ${problem.message}`
          : `the webhook URL "${maskUrlCredentials(w.url)}" ${problem.message}`,
        "an http:// or https:// URL, such as https://hooks.example.com/rollgate",
      );
  }
}

type FleetFileServer = FleetFileCluster["servers"][number];

/** One cluster: its name (recorded in `clusterIndex`), release, estimates, size, servers, references. */
function checkCluster(
  rep: Reporter,
  c: FleetFileCluster,
  ci: number,
  clusterIndex: Map<string, number>,
  serverOwner: Map<string, string>,
): void {
  const at = ["clusters", ci] as const;
  if (clusterIndex.has(c.name))
    rep.add(
      "ROLLGATE_E_FLEET_DUPLICATE_NAME",
      [...at, "name"],
      `cluster name "${c.name}" is used twice`,
      "a unique cluster name",
    );
  else clusterIndex.set(c.name, ci);
  checkVersion(rep, [...at, "version"], c.version);
  for (const [k, v] of Object.entries(c.estimates ?? {}))
    if (v !== undefined) checkDuration(rep, [...at, "estimates", k], v);
  if (c.pack === "polycom-dma" && c.servers.length > 2) {
    rep.add(
      "ROLLGATE_E_FLEET_CLUSTER_SIZE",
      [...at, "servers"],
      `a polycom-dma cluster has one or two servers, this one ${c.servers.length} (D1)`,
      "1 or 2 servers",
    );
  }
  const names = checkServers(rep, c, at, serverOwner);
  checkFilesystems(rep, c, at, names);
  checkOrderList(rep, c, at, names);
  checkPasses(rep, c, at);
  checkCompatibility(rep, [...at, "compatibility"], c.compatibility);
  for (const kind of ["http", "exec", "ssh"] as const) {
    const timeout = c.driver?.[kind]?.timeout;
    if (timeout !== undefined) checkDuration(rep, [...at, "driver", kind, "timeout"], timeout);
  }
  const url = c.driver?.http?.url;
  if (url !== undefined) checkNoCredentials(rep, [...at, "driver", "http", "url"], url);
}

/**
 * A driver URL with user:password@ (or user@) in it: refused. The HTTP driver sends no
 * credentials (fetch refuses such a URL), and a password in a fleet file is a secret in a file
 * kept in version control. The password is never repeated: the URL is shown with `***`.
 */
export function maskUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return `${scheme}${colon < 0 ? "***" : `${userinfo.slice(0, colon)}:***`}@`;
  });
}

function checkNoCredentials(rep: Reporter, path: Path, url: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) return;
  rep.add(
    "ROLLGATE_E_FLEET_URL_CREDENTIALS",
    path,
    `the URL ${maskUrlCredentials(url)} has credentials in it (user:password@ or user@): the HTTP driver sends none, and a fleet file is no place for a password`,
    "a URL without user or password, such as http://{address}:8080; an appliance that needs credentials is reached through an authenticating proxy or vendor adapter in front of it (docs/appliance-api.md)",
  );
}

/**
 * A cluster's servers: names unique in the fleet (`serverOwner`: server → its cluster), releases,
 * addresses. Returns the names of the cluster's servers.
 */
function checkServers(
  rep: Reporter,
  c: FleetFileCluster,
  at: Path,
  serverOwner: Map<string, string>,
): Set<string> {
  const addresses = new Map<string, number>();
  const names = new Set<string>();
  c.servers.forEach((s, si) => {
    const sat = [...at, "servers", si] as const;
    if (names.has(s.name) || serverOwner.has(s.name)) {
      const other = serverOwner.get(s.name);
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...sat, "name"],
        other && other !== c.name
          ? `server "${s.name}" is also in cluster "${other}" (a server belongs to exactly one cluster)`
          : `server name "${s.name}" is used twice`,
        "a server name unique in the fleet",
      );
    } else serverOwner.set(s.name, c.name);
    names.add(s.name);
    if (s.version !== undefined) checkVersion(rep, [...sat, "version"], s.version);
    checkServerAddresses(rep, c, s, si, sat, addresses);
  });
  return names;
}

/**
 * A server's address (valid, unique within the cluster: `addresses` maps each one's key to its
 * server's index) and its interfaces (valid, the address among them).
 */
function checkServerAddresses(
  rep: Reporter,
  c: FleetFileCluster,
  s: FleetFileServer,
  si: number,
  sat: Path,
  addresses: Map<string, number>,
): void {
  const addrOk = isIPAddress(s.address);
  if (!addrOk)
    rep.add(
      "ROLLGATE_E_FLEET_ADDRESS",
      [...sat, "address"],
      `"${s.address}" is not a valid address`,
      "an IPv4 address such as 10.10.1.3 or an IPv6 address",
    );
  else {
    // the same address written two ways (fd00::1, FD00:0:0::1, ::ffff:10.0.0.1) is one address
    const key = addressKey(s.address)!;
    const other = addresses.get(key);
    if (other !== undefined) {
      const o = c.servers[other]!;
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_ADDRESS",
        [...sat, "address"],
        `address ${s.address} is also the address of ${o.name}${o.address !== s.address ? ` (written ${o.address})` : ""}`,
        "an address unique within the cluster",
      );
    } else addresses.set(key, si);
  }
  s.interfaces?.forEach((ifc, ii) => {
    if (!isIPAddress(ifc))
      rep.add(
        "ROLLGATE_E_FLEET_ADDRESS",
        [...sat, "interfaces", ii],
        `"${ifc}" is not a valid address`,
        "an IPv4 or IPv6 address",
      );
  });
  if (addrOk && s.interfaces && !s.interfaces.some((i) => addressKey(i) === addressKey(s.address))) {
    rep.add(
      "ROLLGATE_E_FLEET_ADDRESS_NOT_INTERFACE",
      [...sat, "address"],
      `address ${s.address} is not among the server's interfaces [${s.interfaces.join(", ")}]`,
      "the address to be one of the interfaces",
    );
  }
}

/** A cluster's filesystems: unique names, mounted on servers of the cluster (`names`). */
function checkFilesystems(rep: Reporter, c: FleetFileCluster, at: Path, names: Set<string>): void {
  const fsNames = new Set<string>();
  c.filesystems?.forEach((fs, fi) => {
    if (fsNames.has(fs.name))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...at, "filesystems", fi, "name"],
        `filesystem "${fs.name}" is listed twice`,
        "a unique filesystem name",
      );
    fsNames.add(fs.name);
    fs.mountedOn.forEach((sv, mi) => {
      if (!names.has(sv))
        rep.missing(
          "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
          [...at, "filesystems", fi, "mountedOn", mi],
          { kind: "server", name: sv },
          `"${sv}" is not a server of cluster ${c.name}`,
          oneOf(names, sv),
        );
    });
  });
}

/**
 * M11: `mode` and `passes` belong to a matrix; a mode pass needs the mode the matrix runs now (the
 * pass changes it; a pass to the mode it runs is done); at most one release change and one mode
 * change; a server's own mode needs its matrix's, and is its matrix's or the mode pass's.
 */
function checkPasses(rep: Reporter, c: FleetFileCluster, at: Path): void {
  const code = "ROLLGATE_E_FLEET_PASSES";
  if (c.pack !== "polyserve-matrix") {
    for (const field of ["mode", "passes"] as const)
      if (c[field] !== undefined)
        rep.add(
          code,
          [...at, field],
          `${field} is a polyserve-matrix field (M11), and ${c.name} is a ${c.pack} cluster`,
          "no mode or passes on this cluster",
        );
    return;
  }
  c.servers.forEach((s, si) => {
    if (s.mode !== undefined && c.mode === undefined)
      rep.add(
        code,
        [...at, "servers", si, "mode"],
        `server ${s.name} has a mode, but its matrix ${c.name} names none`,
        "the matrix's mode (mode: MODE on the cluster), the server's only where it differs",
      );
  });
  // the servers run one mode, or two while the mode pass is under way (its mode one of them): any
  // other has no pass to bring the matrix to one mode
  const passMode = (c.passes ?? []).find((p) => p !== "release")?.mode;
  const modes = [...new Set([c.mode, ...c.servers.map((s) => s.mode ?? c.mode)])];
  const first = c.servers.findIndex((s) => s.mode !== undefined && s.mode !== c.mode);
  if (c.mode !== undefined && modes.length > 1 && !(modes.length === 2 && modes.includes(passMode))) {
    const list = modes.join(modes.length === 2 ? " and " : ", ");
    rep.add(
      code,
      [...at, "servers", first, "mode"],
      modes.length > 2
        ? `the servers of ${c.name} run in modes ${list}: a matrix runs one mode, or two while its mode pass is under way`
        : `the servers of ${c.name} run in modes ${list}, and ${passMode === undefined ? "no mode pass is declared" : `the mode pass goes to ${passMode}`}: no pass brings the matrix to one mode`,
      passMode === undefined
        ? `a mode pass to the mode they are to run (passes: [{ mode: ${modes[1]} }, release])`
        : `the servers in ${c.mode} or ${passMode}`,
    );
  }
  let releases = 0;
  let modePasses = 0;
  for (const [pi, p] of (c.passes ?? []).entries()) {
    const path = [...at, "passes", pi];
    if (p === "release") {
      if (++releases === 2)
        rep.add(code, path, `${c.name} declares the release change twice`, "one release pass");
      continue;
    }
    if (c.mode === undefined)
      rep.add(
        code,
        [...path, "mode"],
        `a mode pass changes the matrix's mode, and ${c.name} does not say which mode it runs now`,
        "the matrix's current mode (mode: MODE on the cluster)",
      );
    // a pass to the mode the matrix runs already is done (a second apply skips it); one mode pass:
    // with two, a server part way could be in either's mode, and modes have no order of their own
    else if (++modePasses === 2)
      rep.add(
        code,
        path,
        `${c.name} declares a second mode pass: an upgrade has at most one mode change (with the release change, before or after it)`,
        "one { mode: MODE } pass",
      );
  }
}

/** An `order: { list }`: servers of the cluster (`names`), every one of them listed. */
function checkOrderList(rep: Reporter, c: FleetFileCluster, at: Path, names: Set<string>): void {
  if (!(c.order && typeof c.order === "object" && "list" in c.order)) return;
  const listed = new Set(c.order.list);
  c.order.list.forEach((sv, li) => {
    if (!names.has(sv))
      rep.missing(
        "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
        [...at, "order", "list", li],
        { kind: "server", name: sv },
        `"${sv}" is not a server of cluster ${c.name}`,
        oneOf(names, sv),
      );
  });
  for (const n of names)
    if (!listed.has(n))
      rep.add(
        "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
        [...at, "order", "list"],
        `server "${n}" is missing from the order list`,
        "every server of the cluster listed once",
      );
}

function checkVersion(rep: Reporter, path: Path, v: string): void {
  if (!isVersionString(v))
    rep.add(
      "ROLLGATE_E_FLEET_VERSION",
      path,
      `"${v}" is not a version`,
      "a dotted number such as 3.5.1 or 10.0.0.4",
    );
}

function checkDuration(rep: Reporter, path: Path, v: string): void {
  const seconds = parseDuration(v);
  if (seconds === undefined)
    rep.add(
      "ROLLGATE_E_FLEET_DURATION",
      path,
      `"${v}" is not a duration`,
      "a duration such as 90s, 15m, 2h or 1h30m",
    );
  else if (!(seconds <= MAX_DURATION_SECONDS))
    rep.add(
      "ROLLGATE_E_FLEET_DURATION",
      path,
      `"${v}" is longer than the longest duration accepted (7d)`,
      "a duration of at most 7d (604800s)",
    );
}

function checkCompatibility(rep: Reporter, path: Path, c: FleetFileCompatibility | undefined): void {
  if (c && typeof c === "object" && "table" in c) {
    for (const [i, pair] of c.table.entries()) {
      for (const [j, v] of pair.entries())
        checkVersion(rep, [...path, "table", i, j], v.replace(/\.x$/i, ""));
    }
  }
}
