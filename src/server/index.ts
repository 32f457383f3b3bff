// `sessiond/server`: the sessiond.v1.SessionService, and a whole server (health,
// reflection, security, storage from configuration) as `sessiond` runs it.
// A bad setting: one line that names the setting and what it expects. The same class
// the library's constructors throw, so one `instanceof` catches both.
export { ConfigError } from "../core/ConfigError.js";
export { sessionServiceDefinition } from "../protocol/sessionServiceDefinition.js";
export type { SessionServiceOptions } from "../service/sessionService.js";
export { sessionServiceImplementation } from "../service/sessionService.js";
export { parseConfig } from "./config/parseConfig.js";
export { resolveConfig } from "./config/resolveConfig.js";
export type { ServerConfig, StorageKind } from "./config/ServerConfig.js";
export type { RunningServer, StartOptions } from "./startServer.js";
export { startServer } from "./startServer.js";
