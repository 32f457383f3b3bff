import { parseBudget, parseInteger, parseTimerDuration } from "../parsers.js";
import { DEFAULT_MAX_CONNECTIONS_PER_PEER } from "../transport/ConnectionSlots.js";
import type { AnySetting } from "./Setting.js";

/** Transport limits: what one client may hold of the server (docs/limits.md). */
export const TRANSPORT_SETTINGS: readonly AnySetting[] = [
  {
    name: "MAX_CONCURRENT_STREAMS",
    key: "maxConcurrentStreams",
    default: "100",
    parse: (raw) => parseInteger(raw, 1, 2 ** 31 - 1),
    description: "Most calls in flight on one connection; a client opening more has them refused.",
  },
  {
    name: "MAX_CONNECTIONS",
    key: "maxConnections",
    default: "1000",
    parse: (raw) => parseInteger(raw, 1, 2 ** 31 - 1),
    description:
      "Most open client connections; past it the oldest connection that never made a call is closed to make room, or the new one if all have made one. Lowered at start so that 128 file descriptors (half, under an open-file limit below 256) stay free.",
  },
  {
    name: "MAX_CONNECTIONS_PER_PEER",
    key: "maxConnectionsPerPeer",
    default: "auto",
    parse: (raw) =>
      parseBudget(raw, (text) => parseInteger(text, 1, 2 ** 31 - 1), "a whole number from 1", {
        unlimited: false,
      }),
    description: `Most open connections from one client address (IPv4-mapped IPv6 counts as IPv4), at most SESSIOND_MAX_CONNECTIONS; past it that address's oldest connection that never made a call makes room, or the new one is closed (auto: ${DEFAULT_MAX_CONNECTIONS_PER_PEER}, or SESSIOND_MAX_CONNECTIONS if lower). Behind a proxy every client shares the proxy's address.`,
  },
  {
    name: "HANDSHAKE_TIMEOUT",
    key: "handshakeTimeoutMs",
    default: "5s",
    parse: parseTimerDuration,
    description:
      "A new connection that has not finished its TLS handshake and sent the HTTP/2 preface and SETTINGS this long after it was accepted is closed.",
  },
  {
    name: "CONNECTION_IDLE_TIMEOUT",
    key: "connectionIdleTimeoutMs",
    default: "5m",
    parse: parseTimerDuration,
    description:
      "A connection with no call in flight for this long is closed (a client reconnects on its next call). With tokens, a connection's calls count only once one of them has passed the token check.",
  },
  {
    name: "KEEPALIVE_TIME",
    key: "keepaliveTimeMs",
    default: "2h",
    parse: parseTimerDuration,
    description: "How often each connection is pinged to find clients that are gone.",
  },
  {
    name: "KEEPALIVE_TIMEOUT",
    key: "keepaliveTimeoutMs",
    default: "20s",
    parse: parseTimerDuration,
    description: "A ping not answered within this time closes its connection.",
  },
  {
    name: "MAX_CONNECTION_AGE",
    key: "maxConnectionAgeMs",
    parse: parseTimerDuration,
    description:
      "Connections older than this (±10%) are told to reconnect (GOAWAY), e.g. to rebalance behind a proxy.",
  },
  {
    name: "MAX_CONNECTION_AGE_GRACE",
    key: "maxConnectionAgeGraceMs",
    default: "30s",
    parse: parseTimerDuration,
    description:
      "After a GOAWAY for age or idleness, how long the calls still running may take before the connection is closed.",
  },
  {
    name: "REQUEST_RECEIVE_TIMEOUT",
    key: "requestReceiveTimeoutMs",
    default: "10s",
    parse: parseTimerDuration,
    description:
      "A call whose request has not fully arrived this long after its headers ends with RESOURCE_EXHAUSTED.",
  },
  {
    name: "MAX_CONNECTION_OUTBOUND_BYTES",
    key: "maxConnectionOutboundBytes",
    default: String(16 * 1024 * 1024),
    parse: (raw) => parseInteger(raw, 64 * 1024),
    description:
      "Response bytes one connection may leave unread; past it its calls end with RESOURCE_EXHAUSTED and it is closed.",
  },
];
