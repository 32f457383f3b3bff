import type { Http2Server, IncomingHttpHeaders } from "node:http2";

/**
 * Node's HTTP/2 layer keeps only the first `authorization` of a request in the headers
 * object grpc-js turns into Metadata, so the caller check never saw a second one: a
 * request carrying a good and a bad token passed on the good one, whatever the order. This
 * puts every value back from the raw headers; the caller check then refuses the request
 * (UNAUTHENTICATED, more than one authorization entry) as it refuses a repeated session id.
 * Prepended, so that it runs before grpc-js's own 'stream' listener reads the headers.
 */
export function keepRepeatedAuthorization(http2Server: Http2Server): void {
  http2Server.prependListener(
    "stream",
    (_stream, headers: IncomingHttpHeaders, _flags, rawHeaders: string[]) => {
      const values: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) {
        if (rawHeaders[i] === "authorization") values.push(rawHeaders[i + 1] as string);
      }
      if (values.length > 1) {
        (headers as Record<string, string | string[]>).authorization = values;
      }
    },
  );
}
