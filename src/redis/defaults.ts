/**
 * The Redis storages' defaults, defined once: the storages, createRedisStorage and the
 * server's settings (their --help) all read them from here. No ioredis in this module, so
 * the server's configuration can show them without loading the client.
 */
export const DEFAULT_PREFIX = "sessiond:";
/** Every storage call ends within this bound. */
export const DEFAULT_REDIS_TIMEOUT_MS = 1000;
/** How long one WAIT may block (when waitReplicas > 0); below the command bound. */
export const DEFAULT_WAIT_TIMEOUT_MS = 250;
/** The client-side cache's budget when it is on without one. */
export const DEFAULT_CLIENT_CACHE_BYTES = 64 * 1024 * 1024;
