import { BlockList, isIP } from "node:net";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");
loopback.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

/**
 * True for the hosts only this machine can reach: 127.0.0.0/8, ::1 (also written out, or
 * IPv4-mapped ::ffff:127.x.y.z) and the name localhost. Anything else, 0.0.0.0 and ::
 * included, is treated as reachable from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = (
    host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  ).toLowerCase();
  if (bare === "localhost") return true;
  const family = isIP(bare);
  if (family === 0) return false;
  return loopback.check(bare, family === 4 ? "ipv4" : "ipv6");
}
