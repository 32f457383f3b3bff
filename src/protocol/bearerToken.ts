/**
 * What a caller token looks like, for the server's tokens file and the Node SDK alike
 * (docs/security.md, "Tokens and scopes"): an RFC 6750 b64token, what fits after "Bearer "
 * in one header value, at least MIN_TOKEN_LENGTH characters long.
 */
export const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The shortest token the server accepts; the SDK refuses shorter ones when it is built. */
export const MIN_TOKEN_LENGTH = 16;
