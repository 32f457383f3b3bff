import type { Scope } from "./TokenSet.js";

const SESSION_SERVICE = "/sessiond.v1.SessionService/";
const HEALTH_SERVICE = "/grpc.health.v1.Health/";

const READ = ["Get", "GetData", "Contains", "Size", "Describe"];
const WRITE = ["Set", "SetMap", "Remove", "Touch", "Regenerate", "RemoveAll"];

/** What a call must show: nothing, any listed token, or a token with every one of these scopes. */
export type Requirement = "open" | "any-token" | readonly Scope[];

const bySessionMethod = new Map<string, readonly Scope[]>([
  ...READ.map((name) => [name, ["read"]] as const),
  ...WRITE.map((name) => [name, ["write"]] as const),
  // Increment answers the stored value (delta 0 reads a number): a token that may not
  // read must not learn it, so it needs both.
  ["Increment", ["write", "read"]],
]);
const ADMIN: readonly Scope[] = ["admin"];

/**
 * The scope each method needs. A SessionService method missing from the lists (the
 * user-wide list/revoke RPCs to come) needs `admin`: a new method is refused to read and
 * write tokens until someone decides otherwise. Health is open unless `authHealth`;
 * reflection and anything else need a token of any scope.
 */
export function requirementOf(path: string, authHealth: boolean): Requirement {
  if (path.startsWith(SESSION_SERVICE)) {
    return bySessionMethod.get(path.slice(SESSION_SERVICE.length)) ?? ADMIN;
  }
  if (path.startsWith(HEALTH_SERVICE)) return authHealth ? "any-token" : "open";
  return "any-token";
}
