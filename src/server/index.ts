// `sessiond/server`: the sessiond.v1.SessionService, and a whole server (health,
// reflection, security, storage from configuration) as `sessiond` runs it.
export { sessionServiceDefinition } from "../protocol/sessionServiceDefinition.js";
export type { SessionServiceOptions } from "../service/sessionService.js";
export { sessionServiceImplementation } from "../service/sessionService.js";
export type { ServerConfig, StorageKind } from "./config.js";
export { ConfigError, parseConfig, resolveConfig } from "./config.js";
export type { RunningServer, StartOptions } from "./startServer.js";
export { startServer } from "./startServer.js";
