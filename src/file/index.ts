// `sessiond/file`: sessions as files in one directory (the server's default storage).
export type { FileStorageOptions } from "./FileStorage.js";
export { FileStorage } from "./FileStorage.js";
export { fileIdHashKey } from "./idHashKeyFile.js";
